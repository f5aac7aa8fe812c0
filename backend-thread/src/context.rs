//! The [`Context`] handed to handlers on this backend: sends go into the receiver's mailbox
//! (one short lock, never held while anything runs) and schedule it; nothing waits for the
//! receiver. On the pool, a run of sends to one receiver goes in a chunk at a time
//! (`pool/outbox.rs`); everything else the handler does goes through at once, after what it holds.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use actor_core::{
    Actor, ActorRef, Addr, AskError, Asker, Context, Message, ReplyTo, SendError, SpawnError,
    SpawnOptions,
};

use crate::ask::PendingAsk;
use crate::mailbox::OpenFlag;
use crate::pool::cell::ActorCell;
use crate::pool::outbox::Outbox;
use crate::pool::shared::Shared;
use actor_core::kernel::{Outcome, take_reply};

/// The context of an actor of type `A` running on the thread backend.
///
/// # When a send arrives
/// A send that returns `Ok` is accepted: it will be handled or counted as a dead letter. On the
/// pool, the first send of a handler to a receiver goes into its mailbox at once; further sends
/// to the same receiver, with nothing else between them, go in 64 at a time, and at the latest
/// when the handler returns (or does anything else through this context: an ask, a reply, a
/// send elsewhere, a spawn, a watch, a timer). So a fan-in of many senders into one actor takes
/// one lock of its mailbox for 64 messages, not one for each. A dedicated actor's sends go in
/// at once, and so do sends to a bounded mailbox (which must refuse at once when full) and to
/// an actor already seen to have stopped (refused at once). Sends from outside any actor
/// ([`Backend::send`](actor_core::Backend::send)) are never held.
///
/// ```
/// use actor_core::{Actor, ActorError, ActorRef, Addr, Backend, Context, ShutdownMode};
/// use backend_thread::ThreadSystem;
/// use std::time::Duration;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Sum(u64);
/// impl Actor for Sum {
///     type Msg = u64;
///     fn handle<C: Context<Self>>(&mut self, _ctx: &mut C, n: u64) -> Result<(), ActorError> {
///         self.0 += n;
///         Ok(())
///     }
/// }
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Producer(Addr<u64>);
/// impl Actor for Producer {
///     type Msg = u64;
///     fn handle<C: Context<Self>>(&mut self, ctx: &mut C, count: u64) -> Result<(), ActorError> {
///         // One lock of the sum's mailbox per 64 of these, the first aside.
///         for n in 0..count {
///             ctx.send(&self.0, n).map_err(|e| ActorError::new(e.to_string()))?;
///         }
///         Ok(())
///     }
/// }
///
/// let system = ThreadSystem::new().unwrap();
/// let sum = system.spawn(Sum(0)).unwrap();
/// let producer = system.spawn(Producer(sum)).unwrap();
/// system.send(&producer, 1000).unwrap();
/// let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(5));
/// assert_eq!(report.actor(sum.id()).unwrap().ledger.handled, 1000);
/// ```
pub struct ThreadContext<'a, A: Actor> {
    shared: &'a Arc<Shared>,
    cell: &'a ActorCell<A>,
    /// `None` on a dedicated thread: every send goes in at once.
    outbox: Option<&'a mut Outbox>,
    /// The open flag of the receiver of the outbox's run, if one has begun.
    run_receiver: Option<OpenFlag<'a>>,
}

impl<'a, A: Actor> ThreadContext<'a, A> {
    pub(crate) fn new(
        shared: &'a Arc<Shared>,
        cell: &'a ActorCell<A>,
        outbox: Option<&'a mut Outbox>,
    ) -> Self {
        Self {
            shared,
            cell,
            outbox,
            run_receiver: None,
        }
    }

    /// Puts in the sends held so far: before any other act, so that what another actor can
    /// observe happens in the order the handler did it.
    #[inline]
    fn flush(&mut self) {
        if let Some(outbox) = self.outbox.as_deref_mut() {
            outbox.flush(self.shared);
        }
    }
}

/// The handler has returned (or panicked): what it holds goes in now, before its failure, if
/// any, is acted on.
impl<A: Actor> Drop for ThreadContext<'_, A> {
    fn drop(&mut self) {
        if let Some(outbox) = self.outbox.as_deref_mut() {
            outbox.end(self.shared);
        }
    }
}

impl<A: Actor> Context<A> for ThreadContext<'_, A> {
    fn myself(&self) -> Addr<A::Msg> {
        Addr::from_id(self.cell.id())
    }

    fn send<M: Message>(&mut self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>> {
        match self.outbox.as_deref_mut() {
            Some(outbox) => outbox.send(self.shared, &mut self.run_receiver, to.id(), msg),
            None => self.shared.send(to.id(), msg, None),
        }
    }

    fn send_after<M: Message>(
        &mut self,
        to: &impl ActorRef<M>,
        msg: M,
        delay: Duration,
    ) -> Result<(), SendError<M>> {
        self.flush();
        self.shared.send_after(to.id(), msg, delay)
    }

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
        F: FnOnce(Result<R, AskError>) -> A::Msg + Send + 'static,
    {
        self.flush();
        let asker = self.cell.id();
        let complete = move |shared: &Arc<Shared>, outcome: Outcome| {
            let delivered = outcome.is_ok();
            let result = outcome.and_then(take_reply::<R>);
            shared.deliver_reply::<A::Msg>(asker, Box::new(move || on_reply(result)), delivered);
        };
        let request = self.shared.open_ask(PendingAsk::Actor(Box::new(complete)));
        let msg = make(ReplyTo::new(Asker::Actor(asker), request));
        match self.shared.send(to.id(), msg, Some(request)) {
            // The timeout starts once the request is in: a refused ask never reports one.
            Ok(()) => {
                self.shared.time_out_ask(request, timeout);
                Ok(())
            }
            Err(err) => {
                self.shared.cancel_ask(request);
                Err(err)
            }
        }
    }

    fn reply<R: Message>(&mut self, to: ReplyTo<R>, value: R) {
        self.flush();
        self.shared.complete_ask(to.request(), Ok(Box::new(value)));
    }

    fn spawn<B: Actor>(
        &mut self,
        actor: B,
        options: SpawnOptions,
    ) -> Result<Addr<B::Msg>, SpawnError> {
        self.flush();
        self.shared.spawn(actor, options, Some(self.cell.id()))
    }

    fn watch<M: Message>(&mut self, target: &impl ActorRef<M>) {
        self.flush();
        self.shared.watch(self.cell.id(), target.id());
    }

    fn stop(&mut self) {
        // Read only by this actor's runner, this thread (see `ActorCell::stop_requested`).
        self.cell.stop_requested.store(true, Relaxed);
    }

    fn now(&self) -> Duration {
        self.shared.now()
    }
}
