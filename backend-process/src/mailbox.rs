//! The host's record of one actor: what it has accepted and not yet sent to its process, what
//! its process holds and has not reported handled, and the ledger; and the running process,
//! with the thread that writes to it and the journal it leaves behind.

use std::collections::VecDeque;
use std::sync::Arc;

use actor_core::{ActorId, ExitReason, Ledger, RestartBudget};
use ipc_channel::ipc::{IpcSender, IpcSharedMemory};

use crate::wire::{Delivery, ToChild};

/// Takes a delivery back from its shared form (the writer that shared it is done with it, or
/// it is copied).
pub(crate) fn unshare(delivery: Arc<Delivery>) -> Delivery {
    Arc::try_unwrap(delivery).unwrap_or_else(|shared| (*shared).clone())
}

/// The most deliveries in one IPC write to a child (more go in the next).
const BATCH: usize = 256;

/// What the host writes to a child: deliveries go out shared with the host's own record of
/// them, so sending one copies nothing.
pub(crate) type Outbound = ToChild<Arc<Delivery>>;

/// What the writer thread is handed.
enum ToWriter {
    Deliver(Arc<Delivery>),
    Other(Outbound),
}

/// Where an actor is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Its process is starting, or `started` has not succeeded yet.
    Starting,
    Running,
    /// It has been told to stop (or stopped itself); its process is exiting.
    Stopping(ExitReason),
    Gone(ExitReason),
}

/// A running child process, and the thread that writes to it.
///
/// Writes to a child go through a queue to a writer thread of its own, never straight from the
/// host's lock or the router thread: an IPC send blocks while the child's socket is full (or
/// until a large message is read), and a child blocked sending to the router would then wait
/// for a router that waits for it.
///
/// The writer sends whatever has queued up while it was writing, with consecutive deliveries
/// merged into one IPC message: under load, many messages share one write.
pub(crate) struct ChildProc {
    pub process: std::process::Child,
    to_writer: crossbeam_channel::Sender<ToWriter>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// The host's copy of the child's journal, read once the child is gone.
    pub journal: IpcSharedMemory,
    /// The number of the next batch the child will send (the one its journal holds).
    pub next_batch: u64,
}

impl ChildProc {
    /// Starts the writer thread. If it cannot start, the process is killed and reaped.
    pub fn new(
        mut process: std::process::Child,
        channel: IpcSender<ToChild>,
        journal: IpcSharedMemory,
    ) -> std::io::Result<Self> {
        let channel = channel.to_opaque().to::<Outbound>();
        let (to_writer, outbox) = crossbeam_channel::unbounded::<ToWriter>();
        let writer = std::thread::Builder::new()
            .name("actors-process-writer".into())
            .spawn(move || write_all(&channel, &outbox));
        match writer {
            Ok(writer) => Ok(Self {
                process,
                to_writer,
                writer: Some(writer),
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
        let _ = self.to_writer.send(ToWriter::Other(msg));
    }

    /// Once the process is gone: closes the queue and joins the writer (whose sends to a dead
    /// process fail at once).
    pub fn close(mut self) {
        let (closed, _) = crossbeam_channel::bounded(0);
        self.to_writer = closed;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer thread's loop: waits for something to send, takes everything else queued behind
/// it, merges runs of deliveries, and writes.
fn write_all(channel: &IpcSender<Outbound>, outbox: &crossbeam_channel::Receiver<ToWriter>) {
    let mut run: Vec<Arc<Delivery>> = Vec::new();
    let flush = |run: &mut Vec<Arc<Delivery>>| {
        run.is_empty() || channel.send(ToChild::Deliver(std::mem::take(run))).is_ok()
    };
    while let Ok(first) = outbox.recv() {
        for msg in std::iter::once(first).chain(outbox.try_iter()) {
            match msg {
                ToWriter::Deliver(delivery) => {
                    if run.len() >= BATCH && !flush(&mut run) {
                        return;
                    }
                    run.push(delivery);
                }
                ToWriter::Other(other) => {
                    if !flush(&mut run) || channel.send(other).is_err() {
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

pub(crate) struct Slot {
    pub id: ActorId,
    pub name: Option<String>,
    pub type_name: String,
    /// Where the actor's code is (see `child.rs`) and its initial state, for each (re)start.
    pub entry: u64,
    pub initial: Vec<u8>,
    pub capacity: Option<usize>,
    pub parent: Option<ActorId>,
    pub status: Status,
    pub child: Option<ChildProc>,
    /// Accepted, not yet sent to the process.
    pub queue: VecDeque<Delivery>,
    /// Sent to the process, not yet reported handled; the first one may be in hand.
    pub in_flight: VecDeque<Arc<Delivery>>,
    pub ledger: Ledger,
    pub restarts: u32,
    pub budget: RestartBudget,
    pub watchers: Vec<ActorId>,
    /// The process reported a failure and waits for `Restart` or `Shutdown`.
    pub awaiting_decision: bool,
    /// The process sent a bad frame and has been killed: the failure to report when its channel
    /// closes.
    pub doomed: Option<actor_core::Failure>,
}

impl Slot {
    pub fn is_alive(&self) -> bool {
        !matches!(self.status, Status::Gone(_) | Status::Stopping(_))
    }

    /// Messages waiting, not counting the one in hand.
    pub fn queued(&self) -> usize {
        self.queue.len() + self.in_flight.len().saturating_sub(1)
    }

    pub fn is_full(&self) -> bool {
        self.capacity
            .is_some_and(|capacity| self.queued() >= capacity)
    }

    /// Hands the queue to the process's writer (the host keeps a copy until the process
    /// reports each message handled).
    pub fn pump(&mut self) {
        let Some(child) = &self.child else { return };
        if !self.is_alive() || self.queue.is_empty() {
            return;
        }
        for delivery in self.queue.drain(..) {
            let delivery = Arc::new(delivery);
            // If the process is gone the send fails; its channel's closing will be seen and
            // the delivery is then treated as undelivered.
            let _ = child
                .to_writer
                .send(ToWriter::Deliver(Arc::clone(&delivery)));
            self.in_flight.push_back(delivery);
        }
    }

    /// The process reports every message up to `finished` handled (those it failed on were
    /// taken out before, by their `Failed` frames).
    pub fn finished(&mut self, finished: u64) {
        while self.in_flight.front().is_some_and(|d| d.seq <= finished) {
            self.in_flight.pop_front();
            self.ledger.handled += 1;
        }
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty() && !self.awaiting_decision
    }
}
