//! Faults injected deterministically instead of running an actor's code, to test supervision
//! without timing.

use actor_core::ActorId;

/// A fault to inject, deterministically, instead of running an actor's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fail the actor when it begins its `nth` message (counting from 1, over its whole life,
    /// restarts included). The message is dead-lettered as if the handler had panicked.
    FailAtMessage {
        /// The actor.
        actor: ActorId,
        /// Which message, from 1.
        nth: u64,
    },
    /// Fail the actor's `nth` run of `started` (1 is the first start, 2 the first restart...).
    FailAtStart {
        /// The actor.
        actor: ActorId,
        /// Which start, from 1.
        nth: u64,
    },
}
