//! The ledger every backend keeps and the report `shutdown` returns.
//!
//! Rule 2 of the design: every accepted message ends up *handled* or a *dead letter*, so at
//! shutdown `handled + dead_letters == accepted` for every actor. [`Ledger`] is that account.

use std::any::Any;
use std::fmt;

use crate::addr::ActorId;
use crate::supervision::{ExitReason, Failure, Phase};

/// One actor's message account.
///
/// # Example
/// ```
/// use actor_core::Ledger;
/// let mut l = Ledger::default();
/// l.accepted += 2;
/// l.handled += 1;
/// l.dead_letters += 1;
/// assert!(l.is_balanced());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Messages whose send returned `Ok` (timers count when scheduled).
    pub accepted: u64,
    /// Messages whose handler returned `Ok`.
    pub handled: u64,
    /// Messages that will never be handled: the receiver stopped or failed first, or failed
    /// while handling them.
    pub dead_letters: u64,
}

impl Ledger {
    /// Accepted messages not yet handled or dead-lettered.
    pub fn in_flight(&self) -> u64 {
        self.accepted
            .saturating_sub(self.handled + self.dead_letters)
    }

    /// `handled + dead_letters == accepted`.
    pub fn is_balanced(&self) -> bool {
        self.handled + self.dead_letters == self.accepted
    }
}

impl std::ops::AddAssign for Ledger {
    fn add_assign(&mut self, rhs: Self) {
        self.accepted += rhs.accepted;
        self.handled += rhs.handled;
        self.dead_letters += rhs.dead_letters;
    }
}

/// Why a message became a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The receiver failed while handling it (at most once: it is not handled again).
    FailedWhileHandling,
    /// It was queued when the receiver stopped or failed for good.
    ReceiverGone,
    /// It was queued, or a timer not yet due, when the system shut down without draining.
    Shutdown,
    /// The process backend could not deliver a message whose sender was told `Ok`: the bytes
    /// its sender wrote to a direct route did not decode, or the sender's process skipped the
    /// check a send makes at the call (only a process with corrupted memory does either).
    Undeliverable,
}

/// A message that was accepted but will never be handled.
pub struct DeadLetter {
    /// The intended receiver.
    pub to: ActorId,
    /// Why it was not handled.
    pub reason: DeadLetterReason,
    /// The message itself, where the backend still holds it (a message that was being handled
    /// has been moved into the handler and is gone). Downcast it to the receiver's message type.
    pub message: Option<Box<dyn Any + Send>>,
}

impl DeadLetter {
    /// The message, if it is held and of type `M`.
    pub fn message_as<M: 'static>(&self) -> Option<&M> {
        self.message.as_ref()?.downcast_ref()
    }
}

impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("to", &self.to)
            .field("reason", &self.reason)
            .field("message_held", &self.message.is_some())
            .finish()
    }
}

/// One failure, as the supervisor saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureRecord {
    /// The actor that failed.
    pub actor: ActorId,
    /// Where it failed.
    pub phase: Phase,
    /// Why.
    pub failure: Failure,
    /// Whether it was restarted (false: it stopped and the failure escalated).
    pub restarted: bool,
}

/// What one actor did during the system's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorReport {
    /// The actor.
    pub id: ActorId,
    /// The name given in its spawn options, if any.
    pub name: Option<String>,
    /// Its message account.
    pub ledger: Ledger,
    /// How many times it was restarted.
    pub restarts: u32,
    /// Why it is no longer running.
    pub exit: ExitReason,
}

/// The gone actors whose own reports a backend no longer keeps, summed (see
/// [`ShutdownReport::forgotten`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// How many actors.
    pub actors: u64,
    /// Their message accounts, summed.
    pub ledger: Ledger,
    /// Their restarts, summed.
    pub restarts: u64,
}

impl Forgotten {
    /// Adds one gone actor's account.
    pub fn add(&mut self, ledger: Ledger, restarts: u32) {
        self.actors += 1;
        self.ledger += ledger;
        self.restarts += u64::from(restarts);
    }
}

impl std::ops::AddAssign for Forgotten {
    fn add_assign(&mut self, rhs: Self) {
        self.actors += rhs.actors;
        self.ledger += rhs.ledger;
        self.restarts += rhs.restarts;
    }
}

/// What `shutdown` returns: every actor's account, every failure, and what did not stop in time.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// One entry per actor, in id order: every actor that was alive when the system stopped,
    /// and every gone one whose report the backend still keeps. A backend may keep a bounded
    /// number of gone actors' reports (the thread backend keeps the last few of each slot it
    /// reuses), so that a system that spawns for ever does not grow for ever; the others are
    /// summed in [`forgotten`](Self::forgotten).
    pub actors: Vec<ActorReport>,
    /// The gone actors whose reports are not in `actors`, summed.
    pub forgotten: Forgotten,
    /// Every failure, in the order seen.
    pub failures: Vec<FailureRecord>,
    /// Failures that reached the system root (no actor above to take them).
    pub escalations: Vec<FailureRecord>,
    /// Dead letters, oldest first, as far as the backend keeps them (see the backend's docs for
    /// its limit); the exact counts are in each actor's ledger.
    pub dead_letters: Vec<DeadLetter>,
    /// Replies that arrived after their `ask` had timed out or its asker was gone.
    pub late_replies: u64,
    /// Actors that did not stop within the timeout and were killed or abandoned.
    pub unresponsive: Vec<ActorId>,
}

impl ShutdownReport {
    /// The sum of every actor's ledger, the forgotten ones' included.
    pub fn total(&self) -> Ledger {
        let mut total = self.forgotten.ledger;
        for actor in &self.actors {
            total += actor.ledger;
        }
        total
    }

    /// True when every actor's ledger balances, and the forgotten ones' sum does.
    pub fn is_balanced(&self) -> bool {
        self.actors.iter().all(|a| a.ledger.is_balanced()) && self.forgotten.ledger.is_balanced()
    }

    /// The report of one actor.
    pub fn actor(&self, id: ActorId) -> Option<&ActorReport> {
        self.actors.iter().find(|a| a.id == id)
    }

    /// Restarts over all actors, the forgotten ones' included.
    pub fn restarts(&self) -> u64 {
        self.forgotten.restarts
            + self
                .actors
                .iter()
                .map(|a| u64::from(a.restarts))
                .sum::<u64>()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.total();
        write!(
            f,
            "{} actors: {} accepted, {} handled, {} dead letters, {} failures, {} restarts, {} late replies, {} unresponsive",
            self.actors.len() as u64 + self.forgotten.actors,
            t.accepted,
            t.handled,
            t.dead_letters,
            self.failures.len(),
            self.restarts(),
            self.late_replies,
            self.unresponsive.len()
        )
    }
}
