//! One actor's queue of envelopes, typed by its message, and the operations the scheduler needs
//! on a queue whose type it does not know (its length, draining it into dead letters).

use std::any::Any;
use std::collections::VecDeque;

use actor_core::ActorId;

/// A message with what the system needs to know about it.
pub(crate) struct Envelope<M> {
    pub msg: M,
    /// The sender, `None` for code outside any actor.
    pub from: Option<ActorId>,
    /// The request number if the message is an `ask`, so its asker hears of a failure.
    pub request: Option<u64>,
    /// System-wide send order: the message's identity in traces.
    pub seq: u64,
}

/// A typed FIFO queue. Per-pair order holds because each receiver has exactly one FIFO queue.
pub(crate) struct Mailbox<M> {
    pub queue: VecDeque<Envelope<M>>,
}

impl<M> Mailbox<M> {
    pub fn new() -> Self {
        Self {
            queue: VecDeque::new(),
        }
    }
}

/// A message taken out of a queue whose type is erased: what a dead letter holds.
pub(crate) struct ErasedEnvelope {
    pub msg: Box<dyn Any + Send>,
    pub request: Option<u64>,
}

/// The queue operations that do not depend on the message type.
pub(crate) trait ErasedMailbox: Any + Send {
    fn len(&self) -> usize;
    fn pop_erased(&mut self) -> Option<ErasedEnvelope>;
    fn message_type(&self) -> &'static str;
    /// Gives back the queue's memory (an actor that once held a backlog keeps its peak
    /// otherwise, until shutdown).
    fn release(&mut self);
    /// Messages the queue has room for without growing.
    #[cfg(test)]
    fn capacity(&self) -> usize;
}

impl<M: Send + 'static> ErasedMailbox for Mailbox<M> {
    fn len(&self) -> usize {
        self.queue.len()
    }

    fn pop_erased(&mut self) -> Option<ErasedEnvelope> {
        let env = self.queue.pop_front()?;
        Some(ErasedEnvelope {
            msg: Box::new(env.msg),
            request: env.request,
        })
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<M>()
    }

    fn release(&mut self) {
        self.queue = VecDeque::new();
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.queue.capacity()
    }
}

/// The typed view of an erased mailbox, or `None` if `M` is not its message type.
pub(crate) fn typed<M: 'static>(mailbox: &mut dyn ErasedMailbox) -> Option<&mut Mailbox<M>> {
    (mailbox as &mut dyn Any).downcast_mut::<Mailbox<M>>()
}

#[cfg(test)]
mod tests {
    use actor_core::{Actor, ActorError, ActorRef, Backend, Context, ExitReason, ShutdownMode};

    use crate::InlineSystem;

    /// Stops at its first message.
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct StopsAtOnce;

    impl Actor for StopsAtOnce {
        type Msg = u64;
        fn handle<C: Context<Self>>(&mut self, ctx: &mut C, _: u64) -> Result<(), ActorError> {
            ctx.stop();
            Ok(())
        }
    }

    #[test]
    fn a_gone_actors_queue_gives_back_its_memory() {
        let system = InlineSystem::new();
        let actor = system.spawn(StopsAtOnce).unwrap();
        for n in 0..10_000 {
            system.send(&actor, n).unwrap();
        }
        let capacity = || {
            let core = system.core.borrow();
            core.slot(actor.id()).map(|slot| slot.mailbox.capacity())
        };
        assert!(capacity() >= Some(10_000));
        system.run_until_idle();
        assert_eq!(
            capacity(),
            Some(0),
            "the emptied queue's memory is given back"
        );
        let report = system.shutdown(ShutdownMode::Drain, std::time::Duration::from_secs(1));
        let gone = report.actor(actor.id()).unwrap();
        assert_eq!(gone.exit, ExitReason::Stopped);
        assert_eq!((gone.ledger.handled, gone.ledger.dead_letters), (1, 9_999));
    }
}
