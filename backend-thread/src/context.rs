//! The [`Context`] handed to handlers on this backend: sends go straight into the receiver's
//! mailbox (one short lock, never held while anything runs) and schedule it; nothing waits for
//! the receiver.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use actor_core::{
    Actor, ActorRef, Addr, AskError, Asker, Context, Message, ReplyTo, SendError, SpawnError,
    SpawnOptions,
};

use crate::ask::Outcome;
use crate::cell::ActorCell;
use crate::system::Shared;

/// The context of an actor of type `A` running on the thread backend.
pub struct ThreadContext<'a, A: Actor> {
    shared: &'a Arc<Shared>,
    cell: &'a ActorCell<A>,
}

impl<'a, A: Actor> ThreadContext<'a, A> {
    pub(crate) fn new(shared: &'a Arc<Shared>, cell: &'a ActorCell<A>) -> Self {
        Self { shared, cell }
    }
}

impl<A: Actor> Context<A> for ThreadContext<'_, A> {
    fn myself(&self) -> Addr<A::Msg> {
        Addr::from_id(self.cell.id())
    }

    fn send<M: Message>(&mut self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>> {
        self.shared.send(to.id(), msg, None)
    }

    fn send_after<M: Message>(
        &mut self,
        to: &impl ActorRef<M>,
        msg: M,
        delay: Duration,
    ) -> Result<(), SendError<M>> {
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
        let asker = self.cell.id();
        let complete = move |shared: &Arc<Shared>, outcome: Outcome| {
            let delivered = outcome.is_ok();
            let result = outcome.and_then(|reply| AskError::take_reply::<R>(reply));
            shared.deliver_reply::<A::Msg>(asker, Box::new(move || on_reply(result)), delivered);
        };
        let request = self.shared.open_ask(Box::new(complete));
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
        self.shared.complete_ask(to.request(), Ok(Box::new(value)));
    }

    fn spawn<B: Actor>(
        &mut self,
        actor: B,
        options: SpawnOptions,
    ) -> Result<Addr<B::Msg>, SpawnError> {
        self.shared.spawn(actor, options, Some(self.cell.id()))
    }

    fn watch<M: Message>(&mut self, target: &impl ActorRef<M>) {
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
