//! The [`Actor`] trait, the [`Message`] bound and the error a handler returns.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::supervision::{Failure, Signal};

/// What every message must be: sendable between threads and, for the process backend, between
/// processes.
///
/// It is implemented for every type that meets the bounds; there is nothing to implement by hand.
/// Derive `Serialize` and `Deserialize` on your message enum and it is a `Message`.
pub trait Message: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Message for T {}

/// An actor: private state changed only by its own handler, one message at a time.
///
/// The value passed to `spawn` is the actor's *initial state*. A supervised restart starts again
/// from a clone of it, which is why an actor is `Clone`; the process backend sends it to the child
/// process, which is why it is `Serialize + Deserialize`. State that cannot be serialized (a file,
/// a socket) belongs in a `#[serde(skip)]` field that [`started`](Actor::started) fills in.
///
/// Every method is generic over the [`Context`] so that the same code runs on every backend, each
/// monomorphised with its own context and no dynamic dispatch on the hot path.
///
/// # Example
/// ```
/// use actor_core::{Actor, ActorError, Context};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Default, Serialize, Deserialize)]
/// struct Total(u64);
///
/// impl Actor for Total {
///     type Msg = u64;
///     fn handle<C: Context<Self>>(&mut self, _ctx: &mut C, n: u64) -> Result<(), ActorError> {
///         self.0 = self.0.checked_add(n).ok_or_else(|| ActorError::new("overflow"))?;
///         Ok(())
///     }
/// }
/// ```
pub trait Actor: Clone + Serialize + DeserializeOwned + Send + 'static {
    /// The type of the messages this actor handles.
    type Msg: Message;

    /// Runs once before the first message, and again after each restart.
    ///
    /// # Errors
    /// An error (or a panic) here is a failure like any other: it is reported with its cause and
    /// counts against the restart limit.
    fn started<C: Context<Self>>(&mut self, _ctx: &mut C) -> Result<(), ActorError> {
        Ok(())
    }

    /// Handles one message.
    ///
    /// # Errors
    /// Returning an error (or panicking) is a failure: the message is dead-lettered, the failure
    /// goes to the supervisor, and by default the actor restarts from its initial state.
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: Self::Msg) -> Result<(), ActorError>;

    /// Handles a system signal: the death of a watched actor, or a child's escalated failure.
    ///
    /// The default ignores [`Signal::Terminated`] and fails on [`Signal::Escalated`], so that an
    /// unhandled escalation travels up the supervision tree as it does in OTP.
    ///
    /// # Errors
    /// As for [`handle`](Actor::handle).
    fn signal<C: Context<Self>>(&mut self, _ctx: &mut C, signal: Signal) -> Result<(), ActorError> {
        match signal {
            Signal::Terminated { .. } => Ok(()),
            Signal::Escalated { child, failure } => {
                Err(ActorError::from_failure(Failure::Escalation {
                    child,
                    cause: Box::new(failure),
                }))
            }
        }
    }

    /// Runs once when the actor stops for good or before it is restarted. It finishes before the
    /// restarted instance's [`started`](Actor::started) begins. A panic here is reported and
    /// otherwise ignored.
    fn stopped(&mut self) {}
}

/// The error a handler returns to say it failed.
///
/// A handler that returns `Err` has crashed while handling its message: the message becomes a dead
/// letter and the supervisor decides what happens next.
///
/// # Example
/// ```
/// use actor_core::{ActorError, Failure};
/// let err = ActorError::new("disk full");
/// assert_eq!(err.failure(), &Failure::Error("disk full".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ActorError(Failure);

impl ActorError {
    /// An error carrying a message for the failure report.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(Failure::Error(message.to_string()))
    }

    /// An error that carries a given failure (for example to pass a child's failure upwards).
    pub fn from_failure(failure: Failure) -> Self {
        Self(failure)
    }

    /// The failure this error reports.
    pub fn failure(&self) -> &Failure {
        &self.0
    }

    /// Turns the error into the failure it reports.
    pub fn into_failure(self) -> Failure {
        self.0
    }
}

impl From<&str> for ActorError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<String> for ActorError {
    fn from(message: String) -> Self {
        Self(Failure::Error(message))
    }
}
