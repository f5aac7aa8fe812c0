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
//! A held message counts as accepted when its send returns `Ok`. Each held send first reads,
//! with no lock, whether the receiver's mailbox is still open (`mailbox::OpenFlag`): one
//! seen closed is sent to straight, and refuses with `Stopped` (rule 4), so a run never hides
//! a stop that has happened. If the receiver stops after that look and before the chunk goes
//! in (a send racing the stop), the chunk is accepted and dead at once, on the receiver's
//! account (`Mailbox::push_all`): the same as a message queued when its receiver stopped.
//!
//! What is held lives in the sending actor's state; a buffer bigger than a few messages (a
//! long run's) is freed when the handler ends, so an actor that once sent a burst does not
//! keep a chunk for life.

use std::any::{Any, TypeId};
use std::sync::Arc;

use actor_core::{ActorId, DeadLetterReason, Message, SendError};

use super::queue::CHUNK;
use super::shared::Shared;
use crate::mailbox::{Envelope, Late, OpenFlag};

/// A held buffer of up to this many messages is kept between handlers; a bigger one (a long
/// run's) is freed when the handler ends, so an actor that once sent a burst does not keep a
/// chunk for life.
const KEPT: usize = 8;

/// A pool actor's held sends (runner-only state, with the actor's).
pub(crate) struct Outbox {
    /// The receiver (and the message type) of the last send, when it went straight into an
    /// unbounded mailbox: the next send to it, with nothing between, is held.
    follows: Option<(ActorId, TypeId)>,
    /// Messages held for `follows`, as a `Held<M>`. Kept, empty, once used: a handler that
    /// makes runs of sends allocates this once.
    held: Option<Box<dyn Any + Send>>,
    /// The `M` of the `Held<M>` in `held`: checked with no call through `dyn Any`, which cost
    /// a held send four (callgrind: 68 instructions a message, a fifth of a fan-in's).
    held_type: Option<TypeId>,
    /// [`put_in`] for the type in `held`.
    put_in_held: fn(&mut (dyn Any + Send), &Arc<Shared>) -> bool,
    /// Frees `held`'s buffer if it is bigger than [`KEPT`], for the type in `held`.
    trim_held: fn(&mut Self),
    /// `held` has messages.
    holding: bool,
    /// `held` may have room for more than [`KEPT`] messages: trimmed when the handler ends.
    grown: bool,
}

/// The held messages for one receiver, typed.
struct Held<M> {
    to: ActorId,
    msgs: Vec<Envelope<M>>,
}

impl Outbox {
    pub const fn new() -> Self {
        Self {
            follows: None,
            held: None,
            held_type: None,
            put_in_held: |_, _| true,
            trim_held: |_| {},
            holding: false,
            grown: false,
        }
    }

    /// Sends `msg` to `to`: held if it follows a send that went straight in to `to`,
    /// otherwise (after putting in what is held) straight in.
    ///
    /// `flag` is where the run's receiver says whether it is open: set by the run's first
    /// send, kept by the handler's context (a run ends with its handler).
    #[inline]
    pub fn send<'a, M: Message>(
        &mut self,
        shared: &'a Arc<Shared>,
        flag: &mut Option<OpenFlag<'a>>,
        to: ActorId,
        msg: M,
    ) -> Result<(), SendError<M>> {
        if self.follows == Some((to, TypeId::of::<M>()))
            // A receiver seen to have stopped is sent to straight, and refuses (rule 4).
            && flag.is_some_and(|flag| flag.is_open_to(to))
        {
            if self.held_type != Some(TypeId::of::<M>()) {
                self.hold::<M>();
            }
            if let Some(held) = self
                .held
                .as_mut()
                .and_then(|held| held.downcast_mut::<Held<M>>())
            {
                held.to = to;
                held.msgs.push(Envelope { msg, request: None });
                if held.msgs.len() < CHUNK {
                    self.holding = true;
                    self.grown |= held.msgs.len() > KEPT;
                } else {
                    let open = put_in(held, shared);
                    // A long run: room for its next chunk, made here, outside the receiver's
                    // lock, if the queue had no spare chunk to hand back.
                    if held.msgs.capacity() == 0 {
                        held.msgs.reserve_exact(CHUNK);
                    }
                    self.holding = false;
                    self.grown = true;
                    if !open {
                        // The receiver has stopped: the next send goes straight in, and is
                        // refused.
                        self.follows = None;
                    }
                }
                return Ok(());
            }
        }
        self.flush(shared);
        let pushed = shared.push(to, Envelope { msg, request: None })?;
        if pushed.unbounded {
            self.follows = Some((to, TypeId::of::<M>()));
            *flag = Some(pushed.flag);
        }
        Ok(())
    }

    /// Puts in what is held, and ends the run: the next send goes straight in. Called before
    /// any other act of the handler.
    #[inline]
    pub fn flush(&mut self, shared: &Arc<Shared>) {
        self.follows = None;
        if self.holding {
            self.holding = false;
            if let Some(held) = &mut self.held {
                (self.put_in_held)(held.as_mut(), shared);
            }
        }
    }

    /// [`flush`](Self::flush), when the handler has returned (or panicked): a long run's
    /// buffer is freed too.
    #[inline]
    pub fn end(&mut self, shared: &Arc<Shared>) {
        self.flush(shared);
        if self.grown {
            self.grown = false;
            (self.trim_held)(self);
        }
    }

    /// Makes the held messages a `Held<M>` (empty: a run has just begun, and the last one
    /// was put in when it ended).
    #[cold]
    fn hold<M: Message>(&mut self) {
        self.held = Some(Box::new(Held::<M> {
            to: ActorId::new(0),
            msgs: Vec::new(),
        }));
        self.held_type = Some(TypeId::of::<M>());
        self.put_in_held = |held, shared| {
            held.downcast_mut::<Held<M>>()
                .is_some_and(|held| put_in(held, shared))
        };
        self.trim_held = |outbox| {
            if let Some(held) = outbox
                .held
                .as_mut()
                .and_then(|held| held.downcast_mut::<Held<M>>())
                && held.msgs.capacity() > KEPT
            {
                held.msgs = Vec::new();
            }
        };
    }
}

/// Puts `held` into its receiver's mailbox, in one lock, and schedules the receiver if it was
/// idle; `false` if the receiver had stopped (the messages are then dead letters). Leaves
/// `held` empty: a spare chunk of the receiver's queue if it had one, else with no room.
fn put_in<M: Message>(held: &mut Held<M>, shared: &Arc<Shared>) -> bool {
    // The run's first send found this mailbox, and a cell never leaves the registry nor
    // changes its message type, so this always finds it.
    let found = shared.mailbox::<M>(held.to);
    debug_assert!(
        found.is_ok(),
        "a held message's receiver is in the registry"
    );
    let open = match found {
        Ok((entry, mailbox)) => match mailbox.push_all(held.to, &mut held.msgs) {
            Ok(idle) => {
                if idle {
                    entry.dispatch(shared);
                }
                true
            }
            // Counted accepted and dead already.
            Err(Late::Counted(()) | Late::Stale(())) => false,
        },
        Err(_) => false,
    };
    // Whatever was not put in is a dead letter, kept for the report.
    let reason = if shared.is_stopping() {
        DeadLetterReason::Shutdown
    } else {
        DeadLetterReason::ReceiverGone
    };
    for env in held.msgs.drain(..) {
        shared.dead_letter(held.to, reason, Some(Box::new(env.msg)));
    }
    open
}
