//! The host's record of one actor: what it has accepted and not yet sent to its process, what
//! its process holds and has not confirmed, and the ledger. This is what outlives the child:
//! after a crash the host knows exactly which message was in hand.

use std::collections::VecDeque;

use actor_core::{ActorId, ExitReason, Ledger, RestartBudget};
use ipc_channel::ipc::IpcSender;

use crate::wire::{Delivery, ToChild};

/// Messages a process may hold unconfirmed: sent to it in one batch, so that a stream of small
/// messages costs one IPC write per batch rather than one per message.
pub(crate) const WINDOW: usize = 64;

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
pub(crate) struct ChildProc {
    pub process: std::process::Child,
    pub to_child: crossbeam_channel::Sender<ToChild>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl ChildProc {
    /// Starts the writer thread. If it cannot start, the process is killed and reaped.
    pub fn new(
        mut process: std::process::Child,
        channel: IpcSender<ToChild>,
    ) -> std::io::Result<Self> {
        let (to_child, outbox) = crossbeam_channel::unbounded::<ToChild>();
        let writer = std::thread::Builder::new()
            .name("actors-process-writer".into())
            .spawn(move || {
                for msg in outbox {
                    if channel.send(msg).is_err() {
                        break;
                    }
                }
            });
        match writer {
            Ok(writer) => Ok(Self {
                process,
                to_child,
                writer: Some(writer),
            }),
            Err(e) => {
                let _ = process.kill();
                let _ = process.wait();
                Err(e)
            }
        }
    }

    /// Once the process is gone: closes the queue and joins the writer (whose sends to a dead
    /// process fail at once).
    pub fn close(mut self) {
        let (closed, _) = crossbeam_channel::bounded(0);
        self.to_child = closed;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
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
    /// Sent to the process, not yet confirmed; the first one may be in hand.
    pub in_flight: VecDeque<Delivery>,
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

    /// Sends the process as much of the queue as its window allows, in one IPC message.
    pub fn pump(&mut self) {
        let Some(child) = &self.child else { return };
        if !self.is_alive() || self.in_flight.len() >= WINDOW || self.queue.is_empty() {
            return;
        }
        let room = WINDOW - self.in_flight.len();
        let batch: Vec<Delivery> = self.queue.drain(..room.min(self.queue.len())).collect();
        // If the process is gone the send fails; its channel's closing will be seen and the
        // batch is then treated as undelivered.
        let _ = child.to_child.send(ToChild::Deliver(batch.clone()));
        self.in_flight.extend(batch);
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty() && !self.awaiting_decision
    }
}
