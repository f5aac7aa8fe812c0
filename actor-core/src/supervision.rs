//! Failures and what is done about them: causes, exit reasons, signals, restart limits.
//!
//! Every backend reports failures with the same [`Failure`] causes and decides restarts in the
//! same place ([`kernel::supervisor`](crate::kernel::supervisor)), so that supervision means the
//! same thing everywhere.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::addr::ActorId;

/// Why an actor failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Failure {
    /// A hook or handler panicked; the panic message.
    #[error("panicked: {0}")]
    Panic(String),
    /// A hook or handler returned an [`ActorError`](crate::ActorError); its message.
    #[error("returned an error: {0}")]
    Error(String),
    /// The actor's process was killed by a signal (process backend): its number.
    #[error("killed by signal {0}")]
    Signal(i32),
    /// The actor's process exited on its own (process backend): its exit code.
    #[error("process exited with code {0}")]
    Exit(i32),
    /// A child failed past its restart limit and the failure was passed up.
    #[error("child {child} failed beyond its restart limit: {cause}")]
    Escalation {
        /// The child that failed.
        child: ActorId,
        /// What the child's last failure was.
        cause: Box<Failure>,
    },
    /// The actor sent something the backend could not carry or decode (process backend).
    #[error("transport failure: {0}")]
    Transport(String),
}

/// Where in an actor's life a failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// In [`Actor::started`](crate::Actor::started).
    Started,
    /// In [`Actor::handle`](crate::Actor::handle), while handling a message.
    Handle,
    /// In [`Actor::signal`](crate::Actor::signal).
    Signal,
    /// In [`Actor::stopped`](crate::Actor::stopped).
    Stopped,
    /// Outside any hook: the actor's process died or broke its protocol (process backend).
    Process,
}

/// Why an actor is no longer running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// It called [`Context::stop`](crate::Context::stop).
    Stopped,
    /// The system shut down.
    Shutdown,
    /// It failed and was not restarted (restart limit reached, or supervision says stop).
    Failed(Failure),
    /// It did not stop within the shutdown timeout and was killed (or abandoned, for a thread).
    Killed,
    /// No actor with this id ever existed in the system (a `watch` of a bad id).
    NoSuchActor,
    /// It is gone, and how it ended is no longer known: a backend keeps the reports of gone
    /// actors up to a bound (so that a system that spawns for ever does not grow for ever),
    /// and a watch of one whose report it let go of says this.
    Forgotten,
}

/// A message from the system rather than from another actor, handled by
/// [`Actor::signal`](crate::Actor::signal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// A watched actor is gone, and why. Watching an actor that is already gone delivers this
    /// at once.
    Terminated {
        /// The actor that terminated.
        id: ActorId,
        /// Why it terminated.
        reason: ExitReason,
    },
    /// A child of this actor failed past its restart limit and has stopped. The default
    /// [`Actor::signal`](crate::Actor::signal) fails with it, passing it further up.
    Escalated {
        /// The child that stopped.
        child: ActorId,
        /// Its last failure.
        failure: Failure,
    },
}

/// How many restarts are allowed within a sliding time window (OTP's intensity and period).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::RestartLimit;
/// let limit = RestartLimit::new(3, Duration::from_secs(1));
/// assert_eq!(limit.max_restarts, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartLimit {
    /// Restarts allowed within the window; one more failure escalates.
    pub max_restarts: u32,
    /// The window's length.
    pub within: Duration,
}

impl RestartLimit {
    /// A limit of `max_restarts` within `within`.
    pub const fn new(max_restarts: u32, within: Duration) -> Self {
        Self {
            max_restarts,
            within,
        }
    }
}

impl Default for RestartLimit {
    /// Five restarts within five seconds.
    fn default() -> Self {
        Self::new(5, Duration::from_secs(5))
    }
}

/// What the supervisor does when an actor fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Supervision {
    /// Restart from the initial state, within the limit; past it, stop and escalate.
    Restart(RestartLimit),
    /// Stop at the first failure and escalate it.
    Stop,
}

impl Default for Supervision {
    fn default() -> Self {
        Self::Restart(RestartLimit::default())
    }
}
