//! Asks in flight: each has a request number, and waits here for its one outcome (the reply,
//! or why there is none); a reply that finds no ask waiting (after a timeout, or a second one)
//! is counted as late, never delivered. An actor's ask ends as a message to the asker, made by
//! the asker's own code in its own run (`mailbox.rs`, `SysMsg::Outcome`).

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{ActorId, AskError, DeadLetterReason, Message};
use crossbeam_channel::Sender;

use crate::cell::lock;
use crate::mailbox::Late;
use crate::system::Shared;

/// An `ask`'s outcome: the reply (type-erased until the asker downcasts it), or why there is
/// none.
pub(crate) type Outcome = Result<Box<dyn Any + Send>, AskError>;

/// Turns an actor's `ask` outcome into a message for it.
pub(crate) type Completion = Box<dyn FnOnce(&Arc<Shared>, Outcome) + Send>;

/// Who waits for an ask's outcome: a caller outside any actor (blocked on a channel), or an
/// actor (through its completion).
pub(crate) enum PendingAsk {
    External(Sender<Outcome>),
    Actor(Completion),
}

/// The asks waiting for their outcome, and the count of late replies.
pub(crate) struct Asks {
    pending: Mutex<HashMap<u64, PendingAsk>>,
    next_request: AtomicU64,
    late_replies: AtomicU64,
}

impl Asks {
    /// Request numbers start at 1: a queued message keeps its request in 8 bytes
    /// (`Option<NonZeroU64>`, `mailbox::Envelope`).
    pub fn new() -> Self {
        Self {
            pending: Mutex::default(),
            next_request: AtomicU64::new(1),
            late_replies: AtomicU64::new(0),
        }
    }

    /// Registers an ask; returns its request number.
    pub fn open(&self, pending: PendingAsk) -> u64 {
        let request = self.next_request.fetch_add(1, SeqCst);
        lock(&self.pending).insert(request, pending);
        request
    }

    /// Takes the ask waiting for `request`, if it still waits.
    pub fn take(&self, request: u64) -> Option<PendingAsk> {
        lock(&self.pending).remove(&request)
    }

    pub fn count_late(&self) {
        self.late_replies.fetch_add(1, SeqCst);
    }

    pub fn late_replies(&self) -> u64 {
        self.late_replies.load(SeqCst)
    }

    /// Forgets every ask still waiting (shutdown: their askers are gone).
    pub fn clear(&self) {
        lock(&self.pending).clear();
    }
}

impl Shared {
    /// Registers an actor's ask, with a timer for its timeout; returns its request number.
    pub fn open_ask(self: &Arc<Self>, complete: Completion) -> u64 {
        self.asks.open(PendingAsk::Actor(complete))
    }

    /// Starts the timeout of an actor's ask.
    pub fn time_out_ask(self: &Arc<Self>, request: u64, timeout: Duration) {
        let shared = Arc::clone(self);
        self.timers.add(
            timeout,
            Box::new(move |fire| {
                if fire {
                    shared.complete_ask(request, Err(AskError::Timeout(timeout)));
                }
            }),
        );
    }

    pub fn cancel_ask(&self, request: u64) {
        self.asks.take(request);
    }

    /// Ends an ask with its reply or the reason there is none. A second outcome for the same
    /// ask is a late reply (counted) or a second failure notice (ignored).
    pub fn complete_ask(self: &Arc<Self>, request: u64, outcome: Outcome) {
        let pending = self.asks.take(request);
        match pending {
            Some(PendingAsk::External(reply)) => drop(reply.send(outcome)),
            Some(PendingAsk::Actor(complete)) => complete(self, outcome),
            None if outcome.is_ok() => {
                self.asks.count_late();
            }
            None => {}
        }
    }

    /// Delivers an ask's outcome to the asking actor; dropped and counted as late if the asker
    /// is gone.
    pub fn deliver_reply<M: Message>(
        self: &Arc<Self>,
        asker: ActorId,
        make: Box<dyn FnOnce() -> M + Send>,
        was_reply: bool,
    ) {
        match self.mailbox::<M>(asker) {
            Ok((entry, mailbox)) if mailbox.is_open_to(asker) => {
                match mailbox.push_outcome(asker, make) {
                    Ok(true) => entry.dispatch(self),
                    Ok(false) => {}
                    Err(Late::Counted(())) => {
                        self.dead_letter(asker, DeadLetterReason::ReceiverGone, None);
                    }
                    // The asker is gone and its cell serves another: as if found gone above.
                    Err(Late::Stale(())) if was_reply => {
                        self.asks.count_late();
                    }
                    Err(Late::Stale(())) => {}
                }
            }
            _ if was_reply => {
                self.asks.count_late();
            }
            _ => {}
        }
    }
}
