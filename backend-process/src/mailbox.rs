//! The host's record of one actor: what it has accepted and not yet sent to its process, what
//! its process holds and has not reported handled, the ledger, and the link to the running
//! process (`link.rs`).

use std::collections::VecDeque;
use std::sync::Arc;

use actor_core::{ActorId, ExitReason, Ledger, RestartBudget};

use crate::link::ChildLink;
use crate::wire::Delivery;

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
    pub child: Option<ChildLink>,
    /// Accepted, not yet sent to the process.
    pub queue: VecDeque<Delivery>,
    /// Sent to the process, not yet reported handled; the first one may be in hand.
    pub in_flight: VecDeque<Arc<Delivery>>,
    pub ledger: Ledger,
    pub restarts: u32,
    pub budget: RestartBudget,
    pub watchers: Vec<ActorId>,
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

    /// Writes the queue to the process (the host keeps each delivery, shared, until the process
    /// reports it handled).
    pub fn pump(&mut self) {
        let Some(child) = &self.child else { return };
        if !self.is_alive() || self.queue.is_empty() {
            return;
        }
        for delivery in self.queue.drain(..) {
            let delivery = Arc::new(delivery);
            child.deliver(Arc::clone(&delivery));
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
        self.queue.is_empty() && self.in_flight.is_empty()
    }
}
