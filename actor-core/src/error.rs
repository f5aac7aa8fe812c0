//! What can go wrong when sending, asking and spawning. A failed send gives its message back.

use std::fmt;
use std::time::Duration;

use crate::addr::ActorId;
use crate::supervision::Failure;

/// Why a message was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SendFailure {
    /// The receiver has stopped (or failed past its restart limit).
    #[error("the actor has stopped")]
    Stopped,
    /// The receiver's bounded mailbox holds `capacity` messages already.
    #[error("the mailbox is full ({capacity} messages)")]
    Full {
        /// The mailbox's capacity.
        capacity: usize,
    },
    /// The system is shutting down and accepts no new work from outside.
    #[error("the system is shutting down")]
    ShuttingDown,
    /// No actor with this id was ever spawned in this system.
    #[error("no such actor in this system")]
    UnknownActor,
    /// The actor exists but takes another message type.
    #[error("the actor takes messages of type {expected}")]
    WrongType {
        /// The type name of the messages the actor takes.
        expected: String,
    },
    /// The backend could not carry the message (for example it does not serialize, or exceeds
    /// the frame limit of the process backend).
    #[error("the message cannot be carried: {0}")]
    Transport(String),
}

/// A send that was not accepted, with the message given back.
///
/// # Example
/// ```
/// use actor_core::{ActorId, SendError, SendFailure};
/// let err = SendError::new(ActorId::new(1), SendFailure::Stopped, "hello");
/// assert_eq!(err.to_string(), "send to #1 failed: the actor has stopped");
/// assert_eq!(err.into_message(), "hello");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SendError<M> {
    to: ActorId,
    reason: SendFailure,
    message: M,
}

impl<M> SendError<M> {
    /// A refused send of `message` to `to`.
    pub fn new(to: ActorId, reason: SendFailure, message: M) -> Self {
        Self {
            to,
            reason,
            message,
        }
    }

    /// The intended receiver.
    pub fn to(&self) -> ActorId {
        self.to
    }

    /// Why the message was refused.
    pub fn reason(&self) -> &SendFailure {
        &self.reason
    }

    /// The message that was not sent.
    pub fn message(&self) -> &M {
        &self.message
    }

    /// Takes the message back.
    pub fn into_message(self) -> M {
        self.message
    }

    /// Replaces the message by `f(message)`, keeping the receiver and the reason.
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> SendError<N> {
        SendError {
            to: self.to,
            reason: self.reason,
            message: f(self.message),
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("to", &self.to)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "send to {} failed: {}", self.to, self.reason)
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Why an `ask` produced no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum AskError {
    /// The request was not accepted; the request message is dropped.
    #[error("the request was not accepted: {0}")]
    Rejected(SendFailure),
    /// No reply came within the timeout. A reply that comes later is dropped and counted as a
    /// late reply in the shutdown report.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The receiver stopped before it handled the request.
    #[error("the receiver stopped before handling the request")]
    ReceiverStopped,
    /// The receiver failed while handling the request.
    #[error("the receiver failed while handling the request: {0}")]
    ReceiverFailed(Failure),
    /// The reply could not be decoded as the expected type (process backend).
    #[error("the reply could not be decoded: {0}")]
    BadReply(String),
}

/// Why an actor could not be spawned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SpawnError {
    /// The system is shutting down.
    #[error("the system is shutting down")]
    ShuttingDown,
    /// The spawn options make no sense (for example a mailbox capacity of zero).
    #[error("invalid spawn options: {0}")]
    InvalidOptions(String),
    /// The backend could not start the actor (for example a child process did not start).
    #[error("the actor could not be started: {0}")]
    Backend(String),
}
