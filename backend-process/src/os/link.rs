//! The host's link to one running child process: the process itself, the journal it will
//! leave behind, the ring its deliveries go into, its bell, and the writer thread for
//! everything else.
//!
//! Deliveries go into the ring (`ring.rs`), written by the thread that accepted them, under
//! the host's lock: no system call and no thread to wake (only a delivery too big for the
//! ring takes the writer's lock). A child that had found the ring empty and sleeps is woken on
//! its bell (`bell.rs`), by the same thread: a `futex` call, which never blocks.
//!
//! Everything else (boot, signals, answers, and a delivery too big for the ring, whose marker
//! holds its place there) goes through a writer thread of the child's own, never straight from
//! the host's lock: an IPC send blocks while the child's socket is full, and a child blocked
//! sending to the router would then wait for a router that waits for it. The writer sends, in
//! order, whatever has queued up while it was writing, and is woken only when it waits; it
//! rings the bell after each write, for a child asleep.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ipc_channel::ipc::{IpcSender, IpcSharedMemory};

use crate::os::bell::Bell;
use crate::os::journal::Remains;
use crate::os::packed;
use crate::os::ring::{self, Producer, Sent};
use crate::os::wire::ToChild;

/// Bytes of big deliveries waiting for the writer, or in its hands, beyond which the host
/// hands it no more (`has_room`) and keeps them in the actor's queue: every delivery is also
/// in the host's in-flight buffer until the process confirms it, so a process that falls behind
/// would otherwise cost the host twice its backlog.
const PENDING_BYTES: usize = 1 << 20;

/// What waits for the writer, in the order it is to be written.
enum Queued {
    /// One delivery too big for the ring, written as a `Deliver`.
    Big(Vec<u8>),
    Other(ToChild),
    /// Counted when it was queued (`ChildLink::send_counted`).
    Counted(ToChild),
}

/// What waits for the writer thread, and where the writer is, behind a lock of its own (taken
/// under the host's lock by the host, alone by the writer).
#[derive(Default)]
struct WriteQueue {
    queued: VecDeque<Queued>,
    /// The writer has taken messages and not yet counted their writes.
    writing: bool,
    /// The writer waits to be woken.
    waiting: bool,
    /// No more writes: the process is gone (or the host is done with it).
    closed: bool,
}

/// What the host and the link's writer thread share: the write queue, the counts of what was
/// written, and the child's bell.
struct LinkState {
    writes: Mutex<WriteQueue>,
    wake: Condvar,
    /// IPC messages written to the child, each counted before it is written: the host's own
    /// count, and its copy in the ring's header for the child (which the host never reads back:
    /// the child could have written anything there).
    written: AtomicU64,
    sent: Sent,
    /// Rung after each write, and after each delivery into the ring.
    bell: Bell,
    /// Bytes of big deliveries ever queued for the writer, and ever written by it: their
    /// difference is what waits for it. Each has one writer (the first the host, under its
    /// lock; the second the writer thread), so each is kept with a load and a store, not a
    /// read-modify-write: a locked instruction less on every delivery.
    queued_bytes: AtomicUsize,
    written_bytes: AtomicUsize,
}

impl LinkState {
    fn writes(&self) -> MutexGuard<'_, WriteQueue> {
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn queue(&self, msg: Queued) {
        let mut writes = self.writes();
        Self::queue_in(&self.wake, &mut writes, msg);
    }

    fn queue_in(wake: &Condvar, writes: &mut WriteQueue, msg: Queued) {
        if writes.closed {
            return;
        }
        writes.queued.push_back(msg);
        if writes.waiting {
            wake.notify_one();
        }
    }

    /// One more IPC message is about to be written: counted, in both counts.
    fn count_write(&self) {
        let written = self.written.fetch_add(1, Release) + 1;
        self.sent.raise_to(written);
    }

    fn close(&self) {
        let mut writes = self.writes();
        writes.closed = true;
        writes.queued.clear();
        self.wake.notify_one();
    }
}

pub(crate) struct ChildLink {
    pub process: std::process::Child,
    /// The same process, for killing it from the writer thread too.
    handle: Arc<ProcessHandle>,
    state: Arc<LinkState>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Where deliveries are written.
    ring: Producer,
    /// The host's copy of the child's journal, read once the child is gone.
    pub journal: IpcSharedMemory,
    /// The number of the next batch the child will send (the one its journal holds).
    pub next_batch: u64,
}

impl ChildLink {
    /// Starts the writer thread. If it cannot start, the process is killed and reaped.
    pub fn new(
        mut process: std::process::Child,
        channel: IpcSender<ToChild>,
        journal: IpcSharedMemory,
        ring: IpcSharedMemory,
        bell: IpcSharedMemory,
    ) -> std::io::Result<Self> {
        let (Some(ring), Some(bell)) = (Producer::new(ring), Bell::for_host(bell)) else {
            let _ = process.kill();
            let _ = process.wait();
            return Err(std::io::Error::other("the ring or the bell is too small"));
        };
        let state = Arc::new(LinkState {
            writes: Mutex::default(),
            wake: Condvar::new(),
            written: AtomicU64::new(0),
            sent: ring.sent(),
            bell,
            queued_bytes: AtomicUsize::new(0),
            written_bytes: AtomicUsize::new(0),
        });
        let handle = Arc::new(ProcessHandle::of(&process));
        let writer = {
            let state = Arc::clone(&state);
            let handle = Arc::clone(&handle);
            std::thread::Builder::new()
                .name("actors-process-writer".into())
                .spawn(move || write_all(&channel, &state, &handle))
        };
        match writer {
            Ok(writer) => Ok(Self {
                process,
                handle,
                state,
                writer: Some(writer),
                ring,
                journal,
                next_batch: 0,
            }),
            Err(e) => {
                let _ = process.kill();
                let _ = process.wait();
                Err(e)
            }
        }
    }

    /// Queues a message for the process (dropped if the process is gone: its death is seen on
    /// its channel).
    pub fn send(&self, msg: ToChild) {
        self.state.queue(Queued::Other(msg));
    }

    /// Queues a message that the process must read before any delivery written to its ring
    /// after this call (a direct route's grant): counted now, not when written, so that a
    /// process that takes those deliveries sees it counted and waits for it.
    pub fn send_counted(&self, msg: ToChild) {
        let mut writes = self.state.writes();
        if writes.closed {
            return;
        }
        self.state.count_write();
        LinkState::queue_in(&self.state.wake, &mut writes, Queued::Counted(msg));
    }

    /// Writes one packed delivery (`record`) to the process: into the ring, or, if it is too
    /// big for it, a marker there and the delivery through the writer. Called under the host's
    /// lock, as every `send` is, and only when [`has_room`](Self::has_room) says so.
    pub fn deliver(&mut self, record: &[u8]) {
        let written = if record.len() <= ring::MAX_RECORD {
            self.ring.push(record)
        } else {
            let marked = self.ring.push(&packed::by_socket(record));
            if marked.is_ok() {
                let queued = self.state.queued_bytes.load(Relaxed);
                self.state
                    .queued_bytes
                    .store(queued + record.len(), Release);
                self.state.queue(Queued::Big(record.to_vec()));
            }
            marked
        };
        match written {
            Ok(()) => {
                self.state.bell.ring();
            }
            // `has_room` said it fits, so this cannot be; were it ever, the link is broken:
            // the process is ended, and its end requeues the delivery (it is in flight).
            Err(ring::Full) => {
                self.state.close();
                self.handle.kill();
            }
        }
    }

    /// Whether the ring, and the writer, can take another delivery, of any size (see
    /// [`PENDING_BYTES`]).
    pub fn has_room(&mut self) -> bool {
        if !self.ring.has_room() {
            return false;
        }
        // Written bytes first: both only grow, so the difference is never below the truth.
        let written = self.state.written_bytes.load(Acquire);
        let queued = self.state.queued_bytes.load(Acquire);
        queued.saturating_sub(written) < PENDING_BYTES
    }

    /// Once the process is gone: closes the write queue and joins the writer, whose sends to a dead
    /// process fail at once. ipc-channel writes a message bigger than a socket's buffer in
    /// fragments over a channel whose reading end it keeps open until the send ends, so such a
    /// send to a child that died can wait a long time (half a second, measured); none is made
    /// (the writer sends only small messages and deliveries too big for the ring, which go in
    /// shared memory, see `wire::large`), and should one ever be, the writer is left behind after a second rather
    /// than the router waiting with it.
    pub fn close(mut self) {
        self.state.close();
        if let Some(writer) = self.writer.take() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while !writer.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_micros(20));
            }
            if writer.is_finished() {
                let _ = writer.join();
            }
        }
    }
}

impl Drop for ChildLink {
    /// A link dropped without [`close`](Self::close) still ends its writer.
    fn drop(&mut self) {
        self.state.close();
    }
}

/// The writer thread's loop: waits for something to write, takes everything queued, and
/// writes it in order. Each write is counted before it is made (and so before the writer says
/// it is done), so a host that sees it idle sees every write counted.
fn write_all(channel: &IpcSender<ToChild>, state: &LinkState, process: &ProcessHandle) {
    let mut writes = state.writes();
    loop {
        if writes.closed {
            return;
        }
        if writes.queued.is_empty() {
            writes.waiting = true;
            writes = state
                .wake
                .wait(writes)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            writes.waiting = false;
            continue;
        }
        let taken = std::mem::take(&mut writes.queued);
        writes.writing = true;
        drop(writes);
        let mut ok = true;
        for msg in taken {
            let (msg, bytes) = match msg {
                Queued::Big(record) => {
                    state.count_write();
                    let bytes = record.len();
                    (ToChild::Deliver(record), bytes)
                }
                Queued::Other(other) => {
                    state.count_write();
                    (other, 0)
                }
                Queued::Counted(counted) => (counted, 0),
            };
            // The bytes are counted as written before they are: once the child has them it
            // may report progress at once, and the pump that report brings must find room.
            let written = state.written_bytes.load(Relaxed);
            state.written_bytes.store(written + bytes, Release);
            // ipc-channel panics where it should fail (an `assert!` on the descriptor of a new
            // shared-memory region): a failure all the same.
            ok = ok
                && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| channel.send(msg)))
                    .is_ok_and(|sent| sent.is_ok());
            state.bell.ring();
        }
        writes = state.writes();
        writes.writing = false;
        if !ok {
            writes.closed = true;
            writes.queued.clear();
            drop(writes);
            process.kill();
            return;
        }
    }
}

/// The writer's hold on its process: a pidfd, which names this process and no other even once
/// the host has reaped it and its pid is reused.
struct ProcessHandle(Option<rustix::fd::OwnedFd>);

impl ProcessHandle {
    fn of(process: &std::process::Child) -> Self {
        let pid = i32::try_from(process.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        Self(pid.and_then(|pid| {
            rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
        }))
    }

    /// Ends a process whose channel failed a write. Usually it is gone already; if not, a
    /// delivery it never got would leave it waiting for ever, so it is killed, and its end
    /// (seen on its channel, like any crash) gives its unfinished messages to the restarted
    /// process. Without a pidfd (a kernel before 5.3) the process is left to the host.
    fn kill(&self) {
        if let Some(fd) = &self.0 {
            let _ = rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL);
        }
    }
}

impl ChildLink {
    /// Waits for the child, which has closed its channel, to exit (it is exiting), killing it if it has
    /// not within a second, and returns its status and what its journal holds: no zombie is left.
    /// The journal's frames are kept only if the host never received their batch.
    pub fn reap(mut self) -> (ExitStatus, Remains) {
        let deadline = Instant::now() + Duration::from_secs(1);
        // The channel closes a moment before the process can be waited for: poll soon, then less
        // often (a restart waits on this).
        let mut pause = Duration::from_micros(10);
        let status = loop {
            match self.process.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(1));
                }
                _ => {
                    let _ = self.process.kill();
                    break self
                        .process
                        .wait()
                        .unwrap_or_else(|_| ExitStatus::from_raw(9));
                }
            }
        };
        // Read only now that the process is gone: nothing writes the journal any more.
        let mut remains = crate::os::journal::read_remains(&self.journal);
        if remains.batch < self.next_batch {
            remains.frames.clear();
        }
        self.close();
        (status, remains)
    }

    /// Kills and reaps the child, which is no longer wanted.
    pub fn kill_and_reap(mut self) {
        let _ = self.process.kill();
        self.reap();
    }
}
