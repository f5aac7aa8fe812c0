//! The [`Context`] trait: what a handler can do besides change its own state.

use std::time::Duration;

use crate::actor::{Actor, Message};
use crate::addr::{ActorRef, Addr, ReplyTo};
use crate::error::{AskError, SendError, SpawnError};
use crate::system::SpawnOptions;

/// What a running actor can do: send, ask, reply, spawn, watch, stop, read the clock.
///
/// Each backend implements it for the context it hands to handlers. Nothing here blocks: a send
/// that cannot be accepted returns its message in a [`SendError`], and the reply to an
/// [`ask`](Context::ask) comes back later as a message, so a handler never waits on another actor
/// (which would deadlock the inline backend and starve a thread pool).
pub trait Context<A: Actor> {
    /// The address of the running actor.
    fn myself(&self) -> Addr<A::Msg>;

    /// Sends `msg` to `to`. Messages from one sender to one receiver are handled in send order.
    ///
    /// A send that returns `Ok` is accepted: the message will be handled or counted as a dead
    /// letter, whatever happens to this actor next. When it reaches the receiver is the
    /// backend's: at once, or a little later where batching pays. The thread backend's pool
    /// holds a run of sends to one unbounded receiver until 64 have gathered or the handler
    /// does anything else or returns; the process backend holds a handler's sends until the
    /// actor runs out of work (or 128 messages). So a handler that sends and then runs on for
    /// a long time, or waits for the receiver by other means, must not count on the message
    /// having arrived; see each backend's docs.
    ///
    /// # Errors
    /// The receiver has stopped, its bounded mailbox is full, it does not exist or takes another
    /// type, or the system is shutting down. The error gives the message back.
    fn send<M: Message>(&mut self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>>;

    /// Sends `msg` to `to` after `delay` on the backend's clock (wall time, or virtual time on the
    /// inline backend). The message counts as accepted now; if the receiver is gone when the
    /// timer fires, or the system shuts down first, it becomes a dead letter.
    ///
    /// # Errors
    /// As for [`send`](Context::send), checked now.
    fn send_after<M: Message>(
        &mut self,
        to: &impl ActorRef<M>,
        msg: M,
        delay: Duration,
    ) -> Result<(), SendError<M>>;

    /// Sends a request built by `make` around a [`ReplyTo`] and returns at once. The outcome
    /// (the reply, or why there is none) is turned into a message for this actor by `on_reply`
    /// and arrives like any other message.
    ///
    /// # Errors
    /// As for [`send`](Context::send); then `on_reply` is never called.
    fn ask<M, R, F>(
        &mut self,
        to: &impl ActorRef<M>,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
        on_reply: F,
    ) -> Result<(), SendError<M>>
    where
        M: Message,
        R: Message,
        F: FnOnce(Result<R, AskError>) -> A::Msg + Send + 'static;

    /// Answers a request. A reply whose asker has given up (timed out, stopped) is dropped and
    /// counted as a late reply in the shutdown report.
    fn reply<R: Message>(&mut self, to: ReplyTo<R>, value: R);

    /// Spawns a child; this actor is its supervisor and receives its escalated failures.
    ///
    /// # Errors
    /// Invalid options, a system that is shutting down, or a backend that could not start it.
    fn spawn<B: Actor>(
        &mut self,
        actor: B,
        options: SpawnOptions,
    ) -> Result<Addr<B::Msg>, SpawnError>;

    /// Asks for a [`Signal::Terminated`](crate::Signal::Terminated) when `target` terminates;
    /// at once if it already has.
    fn watch<M: Message>(&mut self, target: &impl ActorRef<M>);

    /// Stops this actor once the current message is handled. Messages still queued become dead
    /// letters; later sends fail with [`SendFailure::Stopped`](crate::SendFailure::Stopped).
    fn stop(&mut self);

    /// Time since the system started, on the backend's clock.
    fn now(&self) -> Duration;
}
