//! Asks in flight, in the kernel's ask table (`actor_core::kernel::AskTable`): each has a
//! request number and waits there for its one outcome; a reply that finds no ask waiting is
//! counted late. An actor's ask ends as a message to the asker, made by the asker's own code
//! in its own run (`mailbox/mod.rs`, `SysMsg::Outcome`); its timeout timer is cancelled when it
//! ends.

use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::kernel::{AskTable, Outcome, TimerKey};
use actor_core::{ActorId, AskError, DeadLetterReason, Message};

use crate::lock;
use crate::mailbox::Late;
use crate::pool::shared::Shared;

/// Turns an actor's `ask` outcome into a message for it.
pub(crate) type Completion = Box<dyn FnOnce(&Arc<Shared>, Outcome) + Send>;

/// Who waits for an ask's outcome: a caller outside any actor (blocked on a channel), or an
/// actor (through its completion).
pub(crate) enum PendingAsk {
    External(SyncSender<Outcome>),
    Actor(Completion),
}

/// The asks waiting for their outcome, with their timeout timers, and the count of late
/// replies.
pub(crate) type Asks = Mutex<AskTable<u64, PendingAsk, TimerKey<Instant>>>;

impl Shared {
    /// Registers an ask; returns its request number (from 1: a queued message keeps its
    /// request in 8 bytes, `Option<NonZeroU64>`, `mailbox::Envelope`).
    pub fn open_ask(&self, pending: PendingAsk) -> u64 {
        let mut asks = lock(&self.asks);
        let request = asks.fresh_request();
        asks.open(request, pending);
        request
    }

    /// Starts the timeout of an actor's ask.
    pub fn time_out_ask(self: &Arc<Self>, request: u64, timeout: Duration) {
        let shared = Arc::clone(self);
        let timer = self.timers.add(
            timeout,
            Box::new(move |fire| {
                if fire {
                    shared.complete_ask(request, Err(AskError::Timeout(timeout)));
                }
            }),
        );
        // The outcome may have come first: then the timer is not wanted. (Cancelled after the
        // ask table's lock is given back: the timer queue's lock is never taken inside it.)
        if let Some(timer) = timer {
            let refused = lock(&self.asks).set_timer(&request, timer);
            if let Err(timer) = refused {
                self.timers.cancel(timer);
            }
        }
    }

    /// Takes an ask out without an outcome (refused, or given up by its caller); `true` if it
    /// was still waiting.
    pub fn cancel_ask(&self, request: u64) -> bool {
        let cancelled = lock(&self.asks).cancel(&request);
        match cancelled {
            Some((_, timer)) => {
                if let Some(timer) = timer {
                    self.timers.cancel(timer);
                }
                true
            }
            None => false,
        }
    }

    /// Ends an ask with its reply or the reason there is none. A second outcome for the same
    /// ask is a late reply (counted) or a second failure notice (ignored).
    pub fn complete_ask(self: &Arc<Self>, request: u64, outcome: Outcome) {
        let ended = lock(&self.asks).complete(&request, outcome.is_ok());
        let Some((pending, timer)) = ended else {
            return;
        };
        if let Some(timer) = timer {
            self.timers.cancel(timer);
        }
        match pending {
            PendingAsk::External(reply) => drop(reply.try_send(outcome)),
            PendingAsk::Actor(complete) => complete(self, outcome),
        }
    }

    /// Counts a reply that found its asker gone.
    fn count_late(&self) {
        lock(&self.asks).count_late();
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
                    Err(Late::Stale(())) if was_reply => self.count_late(),
                    Err(Late::Stale(())) => {}
                }
            }
            _ if was_reply => self.count_late(),
            _ => {}
        }
    }
}
