//! A pool handler's run of sends to one receiver, put into the receiver's mailbox a chunk at a
//! time instead of a message at a time.
//!
//! Why: when several actors on the two workers send to one receiver (a fan-in), every send
//! takes the receiver's mailbox lock, and the lock's cache lines (with the queue's) move from
//! core to core on each one: `perf` gave 40% of a fan-in's time to `Mailbox::push` and its
//! contended lock. So the first send of a handler to a receiver goes straight in, as before
//! (a request, a reply, a wake-up are not held back), and the sends that follow it to the same
//! receiver, with nothing else between them, are held here and put in together, in one lock,
//! when [`CHUNK`] of them have gathered, when the handler does anything else through its
//! context (another receiver, an ask, a reply, a spawn, a watch, a timer), and at the latest
//! when the handler returns, or panics. So what any other actor can observe happens in the
//! order the handler did it; only a run's tail may reach its receiver up to 63 sends late,
//! and no later than the handler's end.
//!
//! Only for unbounded receivers: a bounded mailbox must refuse a send it has no room for when
//! the send is made (rule 4), so each of those goes straight in. Only on the pool: a dedicated
//! actor's handler may run for minutes, and its sends go at once.
//!
//! A held message counts as accepted when its send returns `Ok`. If its receiver stops before
//! the chunk goes in, the chunk is accepted and dead at once, on the receiver's account
//! (`Mailbox::push_all`): the same as a message that was queued when its receiver stopped.

use std::any::{Any, TypeId};
use std::sync::Arc;

use actor_core::{ActorId, DeadLetterReason, Message, SendError};

use crate::mailbox::{Envelope, Late};
use crate::system::Shared;

/// Messages held for one receiver at most before they are put in.
pub(crate) const CHUNK: usize = 64;

/// A pool actor's held sends (runner-only state, with the actor's).
pub(crate) struct Outbox {
    /// The receiver (and the message type) of the last send, when it went straight into an
    /// unbounded mailbox: the next send to it, with nothing between, is held.
    follows: Option<(ActorId, TypeId)>,
    /// Messages held for `follows`, as a `Held<M>`. Kept, empty, once used: a handler that
    /// makes runs of sends allocates this once.
    held: Option<Box<dyn AnyHeld>>,
    /// `held` has messages.
    holding: bool,
}

/// The held messages for one receiver, typed.
struct Held<M> {
    to: ActorId,
    msgs: Vec<Envelope<M>>,
}

/// [`Held`] of any message type.
trait AnyHeld: Send {
    fn as_any(&mut self) -> &mut dyn Any;
    /// Into the receiver's mailbox; `false` if it had stopped (they are dead letters).
    fn put_in(&mut self, shared: &Arc<Shared>) -> bool;
}

impl Outbox {
    pub const fn new() -> Self {
        Self {
            follows: None,
            held: None,
            holding: false,
        }
    }

    /// Sends `msg` to `to`: held if it follows a send that went straight in to `to`,
    /// otherwise (after putting in what is held) straight in.
    #[inline]
    pub fn send<M: Message>(
        &mut self,
        shared: &Arc<Shared>,
        to: ActorId,
        msg: M,
    ) -> Result<(), SendError<M>> {
        if self.follows == Some((to, TypeId::of::<M>())) {
            let held = self.held_for::<M>(to);
            held.msgs.push(Envelope { msg, request: None });
            if held.msgs.len() == CHUNK {
                let open = held.put_in(shared);
                self.holding = false;
                if !open {
                    // The receiver has stopped: the next send goes straight in, and is refused.
                    self.follows = None;
                }
            } else {
                self.holding = true;
            }
            return Ok(());
        }
        self.flush(shared);
        let pushed = shared.push(to, Envelope { msg, request: None })?;
        if pushed.unbounded {
            self.follows = Some((to, TypeId::of::<M>()));
        }
        Ok(())
    }

    /// Puts in what is held, and ends the run: the next send goes straight in. Called before
    /// any other act of the handler, and when it returns.
    #[inline]
    pub fn flush(&mut self, shared: &Arc<Shared>) {
        self.follows = None;
        if self.holding {
            self.holding = false;
            if let Some(held) = &mut self.held {
                held.put_in(shared);
            }
        }
    }

    /// The held messages, for `to`, of type `M` (empty when the run has just begun).
    fn held_for<M: Message>(&mut self, to: ActorId) -> &mut Held<M> {
        let reusable = self
            .held
            .as_mut()
            .is_some_and(|held| held.as_any().is::<Held<M>>());
        if !reusable {
            self.held = Some(Box::new(Held::<M> {
                to,
                msgs: Vec::with_capacity(CHUNK),
            }));
        }
        let held = self
            .held
            .as_mut()
            .and_then(|held| held.as_any().downcast_mut::<Held<M>>())
            .expect("the slot holds a `Held<M>`: it was just checked or made");
        held.to = to;
        // Handed back by the receiver's queue without room (it had no spare chunk): made
        // here, outside its lock.
        if held.msgs.capacity() == 0 {
            held.msgs.reserve_exact(CHUNK);
        }
        held
    }
}

impl<M: Message> AnyHeld for Held<M> {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    /// Into the receiver's mailbox, in one lock, and the receiver scheduled if it was idle.
    fn put_in(&mut self, shared: &Arc<Shared>) -> bool {
        let (entry, mailbox) = match shared.mailbox::<M>(self.to) {
            Ok(found) => found,
            // The run's first send found this mailbox, and a cell never leaves the registry
            // nor changes its message type.
            Err(_) => unreachable!("a held message's receiver was found by its run's first send"),
        };
        match mailbox.push_all(self.to, &mut self.msgs) {
            Ok(idle) => {
                if idle {
                    entry.dispatch(shared);
                }
                true
            }
            // Counted accepted and dead already; kept for the report.
            Err(Late::Counted(()) | Late::Stale(())) => {
                for env in self.msgs.drain(..) {
                    shared.dead_letter(
                        self.to,
                        DeadLetterReason::ReceiverGone,
                        Some(Box::new(env.msg)),
                    );
                }
                false
            }
        }
    }
}
