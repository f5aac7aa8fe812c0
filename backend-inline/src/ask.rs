//! The asks in flight: an outside caller's (it polls for its outcome) or an actor's (its
//! [`Completion`] turns the outcome into a message for it), each with its timeout timer, in the
//! kernel's [`AskTable`]. An ask's timer is cancelled when the ask completes, so completed asks
//! leave nothing behind.
//!
//! Generic over `C`, the state a completion runs on (the scheduler's `Core`).

use std::collections::BTreeMap;
use std::time::Duration;

use actor_core::kernel::{AskTable, Outcome, TimerKey};

use crate::timer::{Timer, Timers};

/// What completes an actor's `ask`: turns its outcome into a message for the asking actor.
pub(crate) type Completion<C> = Box<dyn FnOnce(&mut C, Outcome) + Send>;

/// Who waits for an ask's outcome: a caller outside any actor (it polls
/// [`Asks::take_external`]), or an actor (through its completion).
pub(crate) enum PendingAsk<C> {
    External,
    Actor(Completion<C>),
}

/// The asks waiting for their outcome, and the outcomes of outside callers' asks not yet
/// taken.
pub(crate) struct Asks<C> {
    table: AskTable<u64, PendingAsk<C>, TimerKey<Duration>>,
    external: BTreeMap<u64, Outcome>,
}

impl<C> Asks<C> {
    /// No asks.
    pub fn new() -> Self {
        Self {
            table: AskTable::new(),
            external: BTreeMap::new(),
        }
    }

    /// Registers an ask with its timeout timer; returns its request number.
    pub fn open(
        &mut self,
        timers: &mut Timers<C>,
        timeout: Duration,
        pending: PendingAsk<C>,
    ) -> u64 {
        let request = self.table.fresh_request();
        self.table.open(request, pending);
        let timer = timers.add(
            timeout,
            Timer::AskTimeout {
                request,
                after: timeout,
            },
        );
        // Nothing has run since the ask opened: it still waits for its timer.
        let _ = self.table.set_timer(&request, timer);
        request
    }

    /// Ends an ask with its outcome and cancels its timer. An actor's ask gives back its
    /// completion, for the caller to run; an outside caller's outcome is kept for it to take.
    /// An outcome for an ask that has already ended is a late reply (counted) or a second
    /// failure notice (ignored): `None`.
    pub fn complete(
        &mut self,
        timers: &mut Timers<C>,
        request: u64,
        outcome: Outcome,
    ) -> Option<(Completion<C>, Outcome)> {
        let (pending, timer) = self.table.complete(&request, outcome.is_ok())?;
        if let Some(timer) = timer {
            timers.cancel(timer);
        }
        match pending {
            PendingAsk::Actor(complete) => Some((complete, outcome)),
            PendingAsk::External => {
                self.external.insert(request, outcome);
                None
            }
        }
    }

    /// Forgets an ask whose request was refused, with its timer.
    pub fn cancel(&mut self, timers: &mut Timers<C>, request: u64) {
        if let Some((_, Some(timer))) = self.table.cancel(&request) {
            timers.cancel(timer);
        }
    }

    /// The outcome of an outside caller's ask, once there is one.
    pub fn take_external(&mut self, request: u64) -> Option<Outcome> {
        if self.external.is_empty() {
            return None;
        }
        self.external.remove(&request)
    }

    /// Counts a reply that came after its asker was gone.
    pub fn count_late(&mut self) {
        self.table.count_late();
    }

    /// Replies that came after their ask had ended.
    pub fn late_replies(&self) -> u64 {
        self.table.late_replies()
    }

    /// Forgets every ask (at shutdown: their timers are gone with the clock).
    pub fn clear(&mut self) {
        self.table.clear();
    }
}
