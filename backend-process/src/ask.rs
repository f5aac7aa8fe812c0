//! The asks in flight. On the host: [`Asks`], the kernel's table of who waits for which
//! request ([`PendingAsk`]), with each one's timeout timer. In an actor's process: the
//! [`Completion`] that turns the outcome of an ask the actor made into its message.

use std::time::Instant;

use actor_core::kernel::{AskTable, TimerKey};
use actor_core::{AskError, Asker};

use crate::os::wire::Payload;

/// Who waits for an ask's outcome: a caller outside any actor (blocked on a channel), or an
/// actor's process (the outcome is a delivery to it).
pub(crate) enum PendingAsk {
    External(std::sync::mpsc::SyncSender<Result<Payload, AskError>>),
    Actor,
}

/// The asks in flight, keyed by asker and request number (an actor's process numbers its own),
/// with their timeout timers.
pub(crate) type Asks = AskTable<(Asker, u64), PendingAsk, TimerKey<Instant>>;

/// An `ask` this actor made: turns the outcome into a message for it.
pub(crate) type Completion<M> = Box<dyn FnOnce(Result<Payload, AskError>) -> M>;
