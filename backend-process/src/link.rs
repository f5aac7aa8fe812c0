//! The host's link to one running child process: the process itself, the journal it will
//! leave behind, and the two ways a message is written to it.
//!
//! Most writes go through a writer thread of the child's own, never straight from the host's
//! lock: an IPC send blocks while the child's socket is full, and a child blocked sending to
//! the router would then wait for a router that waits for it. The writer sends whatever has
//! queued up while it was writing, with consecutive deliveries merged into one IPC message, so
//! under load many messages share one write.
//!
//! A small delivery is written directly, by the thread that accepted it, when that cannot
//! block: the writer has nothing queued (so order is kept) and the child has read every IPC
//! message written to it (it says how many it has read in each batch it sends), so the socket
//! is empty and one small message fits in its queue and buffer whatever they are. That saves a
//! thread wake-up on the way to an actor that keeps up: half the hops of a round trip. Under a
//! stream, the child is always behind by a batch or more, and the writer (which may block,
//! holding no lock) takes over.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};

use ipc_channel::ipc::{IpcSender, IpcSharedMemory};

use crate::wire::{Delivery, DeliveryKind, ToChild};

/// The most deliveries in one IPC write to a child (more go in the next).
const BATCH: usize = 256;

/// The most payload bytes merged into one IPC write: well under what ipc-channel sends in one
/// packet, so a merged write is never fragmented (a single bigger message still is).
const BATCH_BYTES: usize = 64 * 1024;

/// A direct write is allowed for a message of up to this many bytes.
const DIRECT_BYTES: usize = 16 * 1024;

/// What the host writes to a child: deliveries go out shared with the host's own record of
/// them, so sending one copies nothing.
pub(crate) type Outbound = ToChild<Arc<Delivery>>;

/// Takes a delivery back from its shared form (the writer that shared it is done with it, or
/// it is copied).
pub(crate) fn unshare(delivery: Arc<Delivery>) -> Delivery {
    Arc::try_unwrap(delivery).unwrap_or_else(|shared| (*shared).clone())
}

/// What the writer thread is handed.
enum ToWriter {
    Deliver(Arc<Delivery>),
    Other(Outbound),
}

/// Counts shared by the host and the writer thread.
#[derive(Default)]
struct Counts {
    /// Handed to the writer and not yet written.
    queued: AtomicU64,
    /// IPC messages written to the child, by either path.
    written: AtomicU64,
}

pub(crate) struct ChildLink {
    pub process: std::process::Child,
    to_writer: crossbeam_channel::Sender<ToWriter>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// For direct writes, made only while the writer has nothing to write.
    channel: IpcSender<Outbound>,
    counts: Arc<Counts>,
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
        let channel = channel.to_opaque().to::<Outbound>();
        let (to_writer, outbox) = crossbeam_channel::unbounded::<ToWriter>();
        let counts = Arc::new(Counts::default());
        let writer = {
            let (channel, counts) = (channel.clone(), Arc::clone(&counts));
            std::thread::Builder::new()
                .name("actors-process-writer".into())
                .spawn(move || write_all(&channel, &outbox, &counts))
        };
        match writer {
            Ok(writer) => Ok(Self {
                process,
                to_writer,
                writer: Some(writer),
                channel,
                counts,
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
    pub fn send(&self, msg: Outbound) {
        self.counts.queued.fetch_add(1, Release);
        let _ = self.to_writer.send(ToWriter::Other(msg));
    }

    /// Writes a delivery to the process: directly if that cannot block, else through the
    /// writer. Called under the host's lock, as every `send` is, so nothing is queued between
    /// the check and the write.
    pub fn deliver(&self, delivery: Arc<Delivery>) {
        // `queued` first: the writer counts a write before it takes the write's items off
        // `queued`, so once `queued` reads 0, `written` includes every write it made.
        let idle = self.counts.queued.load(Acquire) == 0;
        if idle
            && self.counts.written.load(Acquire) <= self.read_by_child
            && size_of(&delivery) <= DIRECT_BYTES
        {
            self.counts.written.fetch_add(1, Release);
            // A failure means the process is gone: seen on its channel, as for the writer.
            let _ = self.channel.send(ToChild::Deliver(vec![delivery]));
            return;
        }
        self.counts.queued.fetch_add(1, Release);
        let _ = self.to_writer.send(ToWriter::Deliver(delivery));
    }

    /// Once the process is gone: closes the queue and joins the writer, whose sends to a dead
    /// process fail at once. ipc-channel writes a message bigger than a socket's buffer in
    /// fragments over a channel whose reading end it keeps open until the send ends, so such a
    /// send to a child that died can wait a long time (half a second, measured); none is made
    /// (merged writes stay under 64 KiB and big payloads go in shared memory, see
    /// `wire::large`), and should one ever be, the writer is left behind after a second rather
    /// than the router waiting with it.
    pub fn close(mut self) {
        let (closed, _) = crossbeam_channel::bounded(0);
        self.to_writer = closed;
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

/// The bytes a delivery carries.
fn size_of(delivery: &Delivery) -> usize {
    match &delivery.kind {
        DeliveryKind::Message { payload, .. } => payload.len(),
        DeliveryKind::AskOutcome { outcome, .. } => outcome.as_ref().map_or(256, Vec::len),
    }
}

/// The writer thread's loop: waits for something to send, takes everything else queued behind
/// it, merges runs of deliveries, and writes. Each write is counted before its items leave
/// the queued count, so a host that sees nothing queued sees every write counted.
fn write_all(
    channel: &IpcSender<Outbound>,
    outbox: &crossbeam_channel::Receiver<ToWriter>,
    counts: &Counts,
) {
    let write = |msg: Outbound, items: usize| {
        let ok = channel.send(msg).is_ok();
        counts.written.fetch_add(1, Release);
        counts.queued.fetch_sub(items as u64, Release);
        ok
    };
    // Deliveries waiting to be merged into one write, and their payload bytes.
    let mut run: (Vec<Arc<Delivery>>, usize) = (Vec::new(), 0);
    let flush = |run: &mut (Vec<Arc<Delivery>>, usize)| {
        let items = run.0.len();
        run.1 = 0;
        items == 0 || write(ToChild::Deliver(std::mem::take(&mut run.0)), items)
    };
    while let Ok(first) = outbox.recv() {
        for msg in std::iter::once(first).chain(outbox.try_iter()) {
            match msg {
                ToWriter::Deliver(delivery) => {
                    let bytes = size_of(&delivery);
                    let full = run.0.len() >= BATCH || run.1 + bytes > BATCH_BYTES;
                    if full && !flush(&mut run) {
                        return;
                    }
                    run.1 += bytes;
                    run.0.push(delivery);
                }
                ToWriter::Other(other) => {
                    if !flush(&mut run) || !write(other, 1) {
                        return;
                    }
                }
            }
        }
        if !flush(&mut run) {
            return;
        }
    }
}
