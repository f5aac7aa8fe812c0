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
use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use ipc_channel::ipc::{IpcSender, IpcSharedMemory};

use crate::bell::Bell;
use crate::packed;
use crate::ring::{self, Producer, Sent};
use crate::wire::ToChild;

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

/// What the host and the writer thread share, behind a lock of its own (taken under the
/// host's lock by the host, alone by the writer).
#[derive(Default)]
struct Outbox {
    queued: VecDeque<Queued>,
    /// The writer has taken messages and not yet counted their writes.
    writing: bool,
    /// The writer waits to be woken.
    waiting: bool,
    /// No more writes: the process is gone (or the host is done with it).
    closed: bool,
}

struct Shared {
    outbox: Mutex<Outbox>,
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

impl Shared {
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn queue(&self, msg: Queued) {
        let mut outbox = self.outbox();
        Self::queue_in(&self.wake, &mut outbox, msg);
    }

    fn queue_in(wake: &Condvar, outbox: &mut Outbox, msg: Queued) {
        if outbox.closed {
            return;
        }
        outbox.queued.push_back(msg);
        if outbox.waiting {
            wake.notify_one();
        }
    }

    /// One more IPC message is about to be written: counted, in both counts.
    fn count_write(&self) {
        let written = self.written.fetch_add(1, Release) + 1;
        self.sent.raise_to(written);
    }

    fn close(&self) {
        let mut outbox = self.outbox();
        outbox.closed = true;
        outbox.queued.clear();
        self.wake.notify_one();
    }
}

pub(crate) struct ChildLink {
    pub process: std::process::Child,
    /// The same process, for killing it from the writer thread too.
    handle: Arc<ProcessHandle>,
    shared: Arc<Shared>,
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
        let shared = Arc::new(Shared {
            outbox: Mutex::default(),
            wake: Condvar::new(),
            written: AtomicU64::new(0),
            sent: ring.sent(),
            bell,
            queued_bytes: AtomicUsize::new(0),
            written_bytes: AtomicUsize::new(0),
        });
        let handle = Arc::new(ProcessHandle::of(&process));
        let writer = {
            let shared = Arc::clone(&shared);
            let handle = Arc::clone(&handle);
            std::thread::Builder::new()
                .name("actors-process-writer".into())
                .spawn(move || write_all(&channel, &shared, &handle))
        };
        match writer {
            Ok(writer) => Ok(Self {
                process,
                handle,
                shared,
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
        self.shared.queue(Queued::Other(msg));
    }

    /// Queues a message that the process must read before any delivery written to its ring
    /// after this call (a direct route's grant): counted now, not when written, so that a
    /// process that takes those deliveries sees it counted and waits for it.
    pub fn send_counted(&self, msg: ToChild) {
        let mut outbox = self.shared.outbox();
        if outbox.closed {
            return;
        }
        self.shared.count_write();
        Shared::queue_in(&self.shared.wake, &mut outbox, Queued::Counted(msg));
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
                let queued = self.shared.queued_bytes.load(Relaxed);
                self.shared
                    .queued_bytes
                    .store(queued + record.len(), Release);
                self.shared.queue(Queued::Big(record.to_vec()));
            }
            marked
        };
        match written {
            Ok(()) => {
                self.shared.bell.ring();
            }
            // `has_room` said it fits, so this cannot be; were it ever, the link is broken:
            // the process is ended, and its end requeues the delivery (it is in flight).
            Err(ring::Full) => {
                self.shared.close();
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
        let written = self.shared.written_bytes.load(Acquire);
        let queued = self.shared.queued_bytes.load(Acquire);
        queued.saturating_sub(written) < PENDING_BYTES
    }

    /// Once the process is gone: closes the outbox and joins the writer, whose sends to a dead
    /// process fail at once. ipc-channel writes a message bigger than a socket's buffer in
    /// fragments over a channel whose reading end it keeps open until the send ends, so such a
    /// send to a child that died can wait a long time (half a second, measured); none is made
    /// (the writer sends only small messages and deliveries too big for the ring, which go in
    /// shared memory, see `wire::large`), and should one ever be, the writer is left behind after a second rather
    /// than the router waiting with it.
    pub fn close(mut self) {
        self.shared.close();
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
        self.shared.close();
    }
}

/// The writer thread's loop: waits for something to write, takes everything queued, and
/// writes it in order. Each write is counted before it is made (and so before the writer says
/// it is done), so a host that sees it idle sees every write counted.
fn write_all(channel: &IpcSender<ToChild>, shared: &Shared, process: &ProcessHandle) {
    let mut outbox = shared.outbox();
    loop {
        if outbox.closed {
            return;
        }
        if outbox.queued.is_empty() {
            outbox.waiting = true;
            outbox = shared
                .wake
                .wait(outbox)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            outbox.waiting = false;
            continue;
        }
        let taken = std::mem::take(&mut outbox.queued);
        outbox.writing = true;
        drop(outbox);
        let mut ok = true;
        for msg in taken {
            let (msg, bytes) = match msg {
                Queued::Big(record) => {
                    shared.count_write();
                    let bytes = record.len();
                    (ToChild::Deliver(record), bytes)
                }
                Queued::Other(other) => {
                    shared.count_write();
                    (other, 0)
                }
                Queued::Counted(counted) => (counted, 0),
            };
            // The bytes are counted as written before they are: once the child has them it
            // may report progress at once, and the pump that report brings must find room.
            let written = shared.written_bytes.load(Relaxed);
            shared.written_bytes.store(written + bytes, Release);
            // ipc-channel panics where it should fail (an `assert!` on the descriptor of a new
            // shared-memory region): a failure all the same.
            ok = ok
                && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| channel.send(msg)))
                    .is_ok_and(|sent| sent.is_ok());
            shared.bell.ring();
        }
        outbox = shared.outbox();
        outbox.writing = false;
        if !ok {
            outbox.closed = true;
            outbox.queued.clear();
            drop(outbox);
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
