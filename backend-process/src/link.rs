//! The host's link to one running child process: the process itself, the journal it will
//! leave behind, and the two ways a message is written to it.
//!
//! Most writes go through a writer thread of the child's own, never straight from the host's
//! lock: an IPC send blocks while the child's socket is full, and a child blocked sending to
//! the router would then wait for a router that waits for it. Deliveries reach the writer
//! already packed (`packed.rs`): each is appended to the last run in the outbox the two share,
//! and the writer sends whatever has queued up while it was writing, one IPC message per run,
//! so under load thousands of messages share one write, and the writer is woken only when it
//! waits.
//!
//! A small delivery is written directly, by the thread that accepted it, when that cannot
//! block: the writer has nothing queued (so order is kept) and the child has read every IPC
//! message written to it (it says how many it has read in each batch it sends), so the socket
//! is empty and one small message fits in its queue and buffer whatever they are. That saves a
//! thread wake-up on the way to an actor that keeps up: half the hops of a round trip. Under a
//! stream, the child is always behind by a batch or more, and the writer (which may block,
//! holding no lock) takes over.

use std::collections::VecDeque;
use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use ipc_channel::ipc::{IpcSender, IpcSharedMemory};

use crate::wire::ToChild;

/// The most bytes of packed deliveries merged into one IPC write: well under what ipc-channel
/// sends in one packet, so a merged write is never fragmented (one bigger delivery goes alone,
/// in shared memory: see `wire::large`).
const BATCH_BYTES: usize = 64 * 1024;

/// A direct write is allowed for a delivery of up to this many bytes.
const DIRECT_BYTES: usize = 16 * 1024;

/// Deliveries waiting for the writer, or in its hands, beyond which the host hands it no more
/// (`has_room`) and keeps them in the actor's queue: every delivery is also in the host's
/// in-flight buffer until the process confirms it, so a process that falls behind would
/// otherwise cost the host twice its backlog.
const PENDING_BYTES: usize = 1 << 20;

/// What waits for the writer, in the order it is to be written.
enum Queued {
    /// Packed deliveries, written as one `Deliver`.
    Run(Vec<u8>),
    Other(ToChild),
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

#[derive(Default)]
struct Shared {
    outbox: Mutex<Outbox>,
    wake: Condvar,
    /// IPC messages written to the child, by either path.
    written: AtomicU64,
    /// Bytes of deliveries ever queued for the writer, and ever written by it: their
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
        if outbox.closed {
            return;
        }
        outbox.queued.push_back(msg);
        if outbox.waiting {
            self.wake.notify_one();
        }
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
    /// For direct writes, made only while the writer has nothing to write.
    channel: IpcSender<ToChild>,
    /// How many IPC messages the child said it had read, in its latest batch.
    pub read_by_child: u64,
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
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let handle = Arc::new(ProcessHandle::of(&process));
        let writer = {
            let (channel, shared) = (channel.clone(), Arc::clone(&shared));
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
                channel,
                read_by_child: 0,
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

    /// Writes one packed delivery (`record`) to the process: directly if that cannot block,
    /// else through the writer, appended to the run it has not taken yet. Called under the
    /// host's lock, as every `send` is, so nothing is queued between the check and the write.
    pub fn deliver(&self, record: &[u8]) {
        let mut outbox = self.shared.outbox();
        if outbox.closed {
            return;
        }
        // The writer counts its writes before it says it is done writing, so an idle writer's
        // writes are all in `written`.
        let idle = outbox.queued.is_empty() && !outbox.writing;
        if idle
            && self.shared.written.load(Acquire) <= self.read_by_child
            && record.len() <= DIRECT_BYTES
        {
            drop(outbox);
            self.shared.written.fetch_add(1, Release);
            if self
                .channel
                .send(ToChild::Deliver(record.to_vec()))
                .is_err()
            {
                // As for the writer: the process is ended, and its end requeues the delivery.
                self.shared.close();
                self.handle.kill();
            }
            return;
        }
        let queued = self.shared.queued_bytes.load(Relaxed);
        self.shared
            .queued_bytes
            .store(queued + record.len(), Release);
        if append(&mut outbox.queued, record) && outbox.waiting {
            self.shared.wake.notify_one();
        }
    }

    /// Whether the writer can take more deliveries (see [`PENDING_BYTES`]).
    pub fn has_room(&self) -> bool {
        // Written bytes first: both only grow, so the difference is never below the truth.
        let written = self.shared.written_bytes.load(Acquire);
        let queued = self.shared.queued_bytes.load(Acquire);
        queued.saturating_sub(written) < PENDING_BYTES
    }

    /// Once the process is gone: closes the outbox and joins the writer, whose sends to a dead
    /// process fail at once. ipc-channel writes a message bigger than a socket's buffer in
    /// fragments over a channel whose reading end it keeps open until the send ends, so such a
    /// send to a child that died can wait a long time (half a second, measured); none is made
    /// (merged writes stay under 64 KiB and big deliveries go in shared memory, see
    /// `wire::large`), and should one ever be, the writer is left behind after a second rather
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

/// Appends a packed delivery to the last run waiting for the writer if it fits in
/// [`BATCH_BYTES`], else starts a run (a delivery bigger than that goes alone); `true` if it
/// started one.
fn append(queued: &mut VecDeque<Queued>, record: &[u8]) -> bool {
    match queued.back_mut() {
        Some(Queued::Run(run)) if run.len() + record.len() <= BATCH_BYTES => {
            run.extend_from_slice(record);
            false
        }
        _ => {
            let mut run = Vec::with_capacity(BATCH_BYTES.min(record.len().max(4096)));
            run.extend_from_slice(record);
            queued.push_back(Queued::Run(run));
            true
        }
    }
}

/// The writer thread's loop: waits for something to write, takes everything queued, and
/// writes it in order, one IPC message per run of deliveries. Each write is counted before the
/// writer says it is done, so a host that sees it idle sees every write counted.
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
                Queued::Run(run) => {
                    let bytes = run.len();
                    (ToChild::Deliver(run), bytes)
                }
                Queued::Other(other) => (other, 0),
            };
            // ipc-channel panics where it should fail (an `assert!` on the descriptor of a new
            // shared-memory region): a failure all the same.
            ok = ok
                && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| channel.send(msg)))
                    .is_ok_and(|sent| sent.is_ok());
            shared.written.fetch_add(1, Release);
            let written = shared.written_bytes.load(Relaxed);
            shared.written_bytes.store(written + bytes, Release);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(queued: &VecDeque<Queued>) -> Vec<usize> {
        queued
            .iter()
            .map(|q| match q {
                Queued::Run(run) => run.len(),
                Queued::Other(_) => 0,
            })
            .collect()
    }

    #[test]
    fn runs_stay_within_the_batch_limit_and_a_bigger_delivery_goes_alone() {
        let mut queued = VecDeque::new();
        let edge = BATCH_BYTES / 2;
        assert!(append(&mut queued, &vec![1; edge]));
        assert!(
            !append(&mut queued, &vec![2; edge]),
            "exactly at the limit: same run"
        );
        assert!(append(&mut queued, &[3]), "one byte over: a new run");
        assert!(
            append(&mut queued, &vec![4; BATCH_BYTES + 1]),
            "too big: alone"
        );
        assert!(
            append(&mut queued, &[5]),
            "nothing joins a run that is over the limit"
        );
        assert_eq!(runs(&queued), [BATCH_BYTES, 1, BATCH_BYTES + 1, 1]);
        // The bytes are the records, whole and in order.
        let Some(Queued::Run(first)) = queued.front() else {
            panic!("a run")
        };
        assert!(first[..edge].iter().all(|&b| b == 1) && first[edge..].iter().all(|&b| b == 2));
    }
}
