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
}

/// The typed view of an erased mailbox, or `None` if `M` is not its message type.
pub(crate) fn typed<M: 'static>(mailbox: &mut dyn ErasedMailbox) -> Option<&mut Mailbox<M>> {
    (mailbox as &mut dyn Any).downcast_mut::<Mailbox<M>>()
}
