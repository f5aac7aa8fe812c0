//! The [`Context`] handed to handlers: every operation is a direct call on the scheduler core,
//! on the caller's thread.

use std::marker::PhantomData;
use std::time::Duration;

use actor_core::kernel::{take_reply, terminated};
use actor_core::{
    Actor, ActorId, ActorRef, Addr, AskError, Asker, Context, DeadLetterReason, Message, ReplyTo,
    SendError, SendFailure, SpawnError, SpawnOptions,
};

use crate::ask::{Completion, PendingAsk};
use crate::scheduler::{Core, Status};
use crate::timer::Timer;

/// The context of an actor of type `A` running on the inline backend.
pub struct InlineContext<'a, A> {
    core: &'a mut Core,
    id: ActorId,
    _actor: PhantomData<fn() -> A>,
}

impl<'a, A> InlineContext<'a, A> {
    pub(crate) fn new(core: &'a mut Core, id: ActorId) -> Self {
        Self {
            core,
            id,
            _actor: PhantomData,
        }
    }
}

impl<A: Actor> Context<A> for InlineContext<'_, A> {
    fn myself(&self) -> Addr<A::Msg> {
        Addr::from_id(self.id)
    }

    fn send<M: Message>(&mut self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>> {
        self.core.send(Some(self.id), to.id(), msg, None)
    }

    fn send_after<M: Message>(
        &mut self,
        to: &impl ActorRef<M>,
        msg: M,
        delay: Duration,
    ) -> Result<(), SendError<M>> {
        let to = to.id();
        match self.core.check_send::<M>(to) {
            // A timer is accepted now and delivered later, whatever the queue holds then.
            Ok(()) | Err(SendFailure::Full { .. }) => {}
            Err(reason) => return Err(SendError::new(to, reason, msg)),
        }
        if let Some(slot) = self.core.slot_mut(to) {
            slot.ledger.accepted += 1;
        }
        let from = self.id;
        let deliver = move |core: &mut Core, fire: bool| {
            let alive = core.slot(to).is_some_and(|s| s.is_alive());
            if fire && alive {
                core.enqueue(Some(from), to, msg, None, false);
            } else {
                let reason = if fire {
                    DeadLetterReason::ReceiverGone
                } else {
                    DeadLetterReason::Shutdown
                };
                core.dead_letter(to, reason, Some(Box::new(msg)));
            }
        };
        self.core
            .timers
            .add(delay, Timer::Deliver(Box::new(deliver)));
        Ok(())
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
        let asker = self.id;
        let completion: Completion<Core> = Box::new(move |core, outcome| {
            let delivered = outcome.is_ok();
            let result = outcome.and_then(take_reply::<R>);
            if core.slot(asker).is_some_and(|s| s.is_alive()) {
                // A reply was asked for: it is not refused for a full mailbox.
                core.enqueue(None, asker, on_reply(result), None, true);
            } else if delivered {
                core.asks.count_late();
            }
        });
        let request = self.core.open_ask(timeout, PendingAsk::Actor(completion));
        let msg = make(ReplyTo::new(Asker::Actor(asker), request));
        self.core
            .send(Some(asker), to.id(), msg, Some(request))
            .inspect_err(|_| self.core.cancel_ask(request))
    }

    fn reply<R: Message>(&mut self, to: ReplyTo<R>, value: R) {
        self.core.complete_ask(to.request(), Ok(Box::new(value)));
    }

    fn spawn<B: Actor>(
        &mut self,
        actor: B,
        options: SpawnOptions,
    ) -> Result<Addr<B::Msg>, SpawnError> {
        crate::runner::spawn(self.core, actor, options, Some(self.id))
    }

    fn watch<M: Message>(&mut self, target: &impl ActorRef<M>) {
        let target = target.id();
        let me = self.id;
        let already_gone = match self.core.slot_mut(target) {
            None => Some(terminated(target, None)),
            Some(slot) => match &slot.status {
                Status::Gone(reason) => Some(terminated(target, Some(reason.clone()))),
                _ => {
                    slot.watchers.add(me);
                    None
                }
            },
        };
        if let Some(signal) = already_gone {
            self.core.signal(me, signal);
        }
    }

    fn stop(&mut self) {
        if let Some(slot) = self.core.slot_mut(self.id) {
            slot.stop_requested = true;
        }
    }

    fn now(&self) -> Duration {
        self.core.now()
    }
}
