//! The [`Backend`] trait (an actor system) and the options it takes.

use std::time::Duration;

use crate::actor::{Actor, Message};
use crate::addr::{ActorRef, Addr, ReplyTo};
use crate::error::{AskError, SendError, SpawnError};
use crate::report::ShutdownReport;
use crate::supervision::Supervision;

/// Where an actor's handlers run, on backends that offer a choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Placement {
    /// Shared with other actors (a thread pool): right for many small actors.
    #[default]
    Shared,
    /// A thread of its own: right for handlers that run long. Backends that run every actor in
    /// one place (inline) or in a process of its own (process) treat it as `Shared`.
    Dedicated,
}

/// How an actor is spawned: its name, mailbox bound, supervision and placement.
///
/// # Example
/// ```
/// use actor_core::{Placement, SpawnOptions, Supervision};
/// let opts = SpawnOptions::new().name("worker").capacity(64).supervision(Supervision::Stop).dedicated();
/// assert_eq!(opts.capacity, Some(64));
/// assert_eq!(opts.placement, Placement::Dedicated);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnOptions {
    /// A name for reports and logs.
    pub name: Option<String>,
    /// The most messages the mailbox holds (not counting the one being handled); `None` is
    /// unbounded. Zero is invalid.
    pub capacity: Option<usize>,
    /// What happens when the actor fails.
    pub supervision: Supervision,
    /// Where its handlers run.
    pub placement: Placement,
}

impl SpawnOptions {
    /// Unnamed, unbounded, restarted under the default limit, shared placement.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Bounds the mailbox to `capacity` messages.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Sets the supervision policy.
    pub fn supervision(mut self, supervision: Supervision) -> Self {
        self.supervision = supervision;
        self
    }

    /// Gives the actor a thread of its own where the backend has threads.
    pub fn dedicated(mut self) -> Self {
        self.placement = Placement::Dedicated;
        self
    }

    /// Checks the options; backends call it before spawning.
    ///
    /// # Errors
    /// [`SpawnError::InvalidOptions`] for a capacity of zero.
    pub fn validate(&self) -> Result<(), SpawnError> {
        if self.capacity == Some(0) {
            return Err(SpawnError::InvalidOptions(
                "a mailbox capacity must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What happens to queued messages at shutdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Refuse new sends from outside, let actors handle everything already queued (and what
    /// they send each other meanwhile) until idle or the timeout, then stop them.
    #[default]
    Drain,
    /// Let each actor finish its current message, then stop it; queued messages become dead
    /// letters.
    DeadLetter,
}

/// An actor system: spawn actors, talk to them from outside, shut it down.
///
/// Workloads, benchmarks and the conformance suite are written once against this trait. Calls
/// from outside any actor may block (`ask` waits for its reply, within its timeout); inside a
/// handler use [`Context`](crate::Context) instead, which never blocks.
pub trait Backend: Sized {
    /// Spawns a top-level actor (supervised by the system root) from its initial state.
    ///
    /// # Errors
    /// Invalid options, a system that is shutting down, or a backend that could not start it.
    fn spawn_with<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<Addr<A::Msg>, SpawnError>;

    /// Spawns a top-level actor with default options.
    ///
    /// # Errors
    /// As for [`spawn_with`](Backend::spawn_with).
    fn spawn<A: Actor>(&self, actor: A) -> Result<Addr<A::Msg>, SpawnError> {
        self.spawn_with(actor, SpawnOptions::default())
    }

    /// Sends `msg` to `to` from outside any actor. It does not wait for room: a full mailbox
    /// gives the message back.
    ///
    /// # Errors
    /// As for [`Context::send`](crate::Context::send).
    fn send<M: Message>(&self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>>;

    /// Sends `msg` to `to` from outside any actor, waiting up to `timeout` for room in a full
    /// bounded mailbox (backpressure for producers that are not actors). It retries with a
    /// growing pause taken with [`sleep`](Backend::sleep), and measures `timeout` on the
    /// backend's clock ([`now`](Backend::now)): on the inline backend "waiting" runs actors
    /// until the receiver has made room, in virtual time, and the time it reaches does not
    /// depend on the machine's speed. A pause that does not move the clock (the inline
    /// backend's step limit, reached by actors that keep each other busy) ends the wait.
    ///
    /// # Errors
    /// As for [`send`](Backend::send); a mailbox still full after `timeout` gives
    /// [`SendFailure::Full`](crate::SendFailure::Full).
    fn send_timeout<M: Message>(
        &self,
        to: &impl ActorRef<M>,
        msg: M,
        timeout: Duration,
    ) -> Result<(), SendError<M>> {
        let deadline = self.now().saturating_add(timeout);
        let mut msg = msg;
        let mut pause = Duration::from_micros(1);
        loop {
            let now = self.now();
            match self.send(to, msg) {
                Err(err)
                    if matches!(err.reason(), crate::SendFailure::Full { .. })
                        && now < deadline =>
                {
                    msg = err.into_message();
                    self.sleep(pause.min(deadline - now));
                    if self.now() == now {
                        return self.send(to, msg);
                    }
                    pause = (pause * 2).min(Duration::from_micros(100));
                }
                result => return result,
            }
        }
    }

    /// Sends a request built by `make` and waits for its reply, at most `timeout`.
    ///
    /// # Errors
    /// See [`AskError`]: refused, timed out, or the receiver stopped or failed first.
    fn ask<M: Message, R: Message>(
        &self,
        to: &impl ActorRef<M>,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, AskError>;

    /// Lets `duration` pass on the backend's clock, from outside any actor: wall-clock backends
    /// sleep while their actors run; the inline backend runs its actors and fires its timers
    /// until its virtual clock has moved on by `duration`. Code that polls for an outcome waits
    /// with this, so that it works on every backend.
    fn sleep(&self, duration: Duration);

    /// The backend's clock: the time since the system started, wall time on the wall-clock
    /// backends and virtual time on the inline backend. What
    /// [`Context::now`](crate::Context::now) reads inside a handler, read from outside.
    fn now(&self) -> Duration;

    /// Stops every actor and returns what happened. `mode` says what becomes of queued messages;
    /// whatever has not stopped after `timeout` is killed (or, for a thread that cannot be
    /// killed, abandoned and listed as unresponsive).
    fn shutdown(self, mode: ShutdownMode, timeout: Duration) -> ShutdownReport;
}
