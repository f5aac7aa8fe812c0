//! The [`Context`] handed to handlers in an actor's process. Everything a handler sends is
//! written to the process's journal, in shared memory that the host can read even after this
//! process is killed: once `send` returns `Ok`, the message reaches the host even if this
//! process dies the next instant. It leaves by IPC with the next batch, when the actor runs out
//! of messages to handle (or every 128 messages, or when the journal's 64 KiB fill up).

use std::any::type_name;
use std::collections::HashMap;
use std::time::Duration;

use actor_core::{
    Actor, ActorRef, Addr, AskError, Asker, Context, Message, ReplyTo, SendError, SendFailure,
    SpawnError, SpawnOptions,
};

use crate::ask::Completion;
use crate::os::child::ChildIo;
use crate::os::packed::encode_into;
use crate::os::wire::{Bytes, Fence, ToChild, ToHost, TypeKey, decode, encode};
use crate::runner::entry_of;

/// The context of an actor of type `A` running in its own process.
///
/// A send is checked at the call against the directory the host shares with every process
/// (stopped, unknown, another type, a full bounded mailbox: the typed error, with the message
/// back), returns once the message is in the journal (so it survives this process), and
/// reaches the host with the next batch: at the latest when the handler returns and the actor
/// has nothing more to handle. A receiver that stops in between makes it a dead letter
/// ([`ReceiverGone`](actor_core::DeadLetterReason::ReceiverGone)): counted, never silently
/// lost.
///
/// Actor code does not name it: a handler is generic over `C: Context<Self>`, and on this
/// backend `C` is a `ProcessContext`.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::{Actor, ActorError, Backend, Context, ReplyTo};
///
/// /// Doubles what it is asked, in its own process.
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Doubler;
/// impl Actor for Doubler {
///     type Msg = (u64, ReplyTo<u64>);
///     fn handle<C: Context<Self>>(&mut self, ctx: &mut C, (n, reply_to): Self::Msg) -> Result<(), ActorError> {
///         ctx.reply(reply_to, 2 * n); // `ctx` is a `ProcessContext<Doubler>` here
///         Ok(())
///     }
/// }
///
/// backend_process::init(); // first, in `main`
/// let system = backend_process::ProcessSystem::new()?;
/// let doubler = system.spawn(Doubler).unwrap();
/// assert_eq!(system.ask(&doubler, |r| (21, r), Duration::from_secs(5)), Ok(42));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ProcessContext<'a, A: Actor> {
    io: &'a mut ChildIo,
    asks: &'a mut HashMap<u64, Completion<A::Msg>>,
}

impl<'a, A: Actor> ProcessContext<'a, A> {
    pub(crate) fn new(io: &'a mut ChildIo, asks: &'a mut HashMap<u64, Completion<A::Msg>>) -> Self {
        Self { io, asks }
    }

    /// Encodes `msg` and sends it, as `via` says: through a direct route to `to` if there is
    /// one that takes it, else through the host, in the frame `wire` makes (given the fence the
    /// message must carry, if a route to `to` was given up for it).
    fn post<M>(
        &mut self,
        to: actor_core::ActorId,
        msg: M,
        via: Via,
        wire: impl FnOnce(Bytes<'_>, Option<Fence>) -> ToHost<'_>,
    ) -> Result<(), SendError<M>>
    where
        M: Message,
    {
        let max_frame = self.io.max_frame;
        let sent = self.io.with_scratch(|io, payload| {
            encode_into(&msg, payload).map_err(SendFailure::Transport)?;
            // (Looked at only over the limit: the hook costs a send nothing.)
            if payload.len() > max_frame
                && !crate::os::child::IGNORE_FRAME_LIMIT.load(std::sync::atomic::Ordering::Relaxed)
            {
                let why = format!(
                    "{} bytes encoded, over the frame limit of {max_frame}",
                    payload.len()
                );
                return Err(SendFailure::Transport(why));
            }
            // Checked at the call, as a send from outside is; a timer is delivered past the
            // bound, so it takes no place now.
            let reserve = !matches!(via, Via::Timer);
            io.admit(to, TypeKey::of::<M>(), reserve)?;
            let after = match via {
                Via::Direct => match io.outgoing.try_direct(to, TypeKey::of::<M>(), payload) {
                    Ok(()) => return Ok(()),
                    Err(after) => after,
                },
                Via::Host => io.outgoing.give_up(to),
                Via::Timer => None,
            };
            if let Err(e) = io.send(wire(Bytes(payload), after)) {
                if reserve {
                    io.release(to);
                }
                return Err(SendFailure::Transport(e));
            }
            if matches!(via, Via::Direct) && after.is_none() && io.outgoing.count_through_host(to) {
                io.send(ToHost::OpenRoute {
                    to,
                    msg_type: TypeKey::of::<M>(),
                })
                .map_err(SendFailure::Transport)?;
            }
            Ok(())
        });
        sent.map_err(|why| SendError::new(to, why, msg))
    }

    /// A send, now (`None`) or after a delay (kept by the host's timers).
    fn send_later<M: Message>(
        &mut self,
        to: actor_core::ActorId,
        msg: M,
        delay: Option<Duration>,
    ) -> Result<(), SendError<M>> {
        let via = if delay.is_some() {
            Via::Timer
        } else {
            Via::Direct
        };
        self.post(to, msg, via, |payload, after| ToHost::Send {
            to,
            msg_type: TypeKey::of::<M>(),
            payload,
            delay,
            after,
        })
    }
}

/// Which way a message may go.
#[derive(Clone, Copy)]
enum Via {
    /// A plain send now: through a direct route if there is one that takes it.
    Direct,
    /// Through the host (an ask, a reply): a direct route to the receiver is given up, and
    /// the message waits behind its fence.
    Host,
    /// Through the host's timers: it keeps no order with the others anyway, and leaves any
    /// route as it is.
    Timer,
}

impl<A: Actor> Context<A> for ProcessContext<'_, A> {
    fn myself(&self) -> Addr<A::Msg> {
        Addr::from_id(self.io.id)
    }

    fn send<M: Message>(&mut self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>> {
        self.send_later(to.id(), msg, None)
    }

    fn send_after<M: Message>(
        &mut self,
        to: &impl ActorRef<M>,
        msg: M,
        delay: Duration,
    ) -> Result<(), SendError<M>> {
        self.send_later(to.id(), msg, Some(delay))
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
        let request = self.io.next_request;
        self.io.next_request += 1;
        let msg = make(ReplyTo::new(Asker::Actor(self.io.id), request));
        let to = to.id();
        self.post(to, msg, Via::Host, |payload, after| ToHost::Ask {
            to,
            msg_type: TypeKey::of::<M>(),
            payload,
            request,
            timeout,
            after,
        })?;
        let complete: Completion<A::Msg> = Box::new(move |outcome| {
            on_reply(outcome.and_then(|bytes| decode::<R>(&bytes).map_err(AskError::BadReply)))
        });
        self.asks.insert(request, complete);
        Ok(())
    }

    fn reply<R: Message>(&mut self, to: ReplyTo<R>, value: R) {
        // A reply that cannot be encoded or sent is, for the asker, a reply that never came:
        // its ask times out.
        self.io.with_scratch(|io, payload| {
            if encode_into(&value, payload).is_ok() {
                // The asking actor's outcome keeps its place after what this one sent it.
                let after = match to.asker() {
                    Asker::Actor(asker) => io.outgoing.give_up(asker),
                    Asker::External => None,
                };
                let _ = io.send(ToHost::Reply {
                    asker: to.asker(),
                    request: to.request(),
                    payload: Bytes(payload),
                    after,
                });
            }
        });
    }

    fn spawn<B: Actor>(
        &mut self,
        actor: B,
        options: SpawnOptions,
    ) -> Result<Addr<B::Msg>, SpawnError> {
        options.validate()?;
        let payload = encode(&actor).map_err(SpawnError::Backend)?;
        let token = self.io.next_token;
        self.io.next_token += 1;
        let spawn = ToHost::Spawn {
            token,
            entry: entry_of::<B>(),
            actor: Bytes(&payload),
            type_name: type_name::<B::Msg>().to_string(),
            msg_type: TypeKey::of::<B::Msg>(),
            options: (&options).into(),
        };
        self.io.send(spawn).map_err(SpawnError::Backend)?;
        match self
            .io
            .wait_answer(|m| matches!(m, ToChild::Spawned { token: t, .. } if *t == token))
        {
            Ok(ToChild::Spawned { result, .. }) => result.map(Addr::from_id),
            Ok(_) => Err(SpawnError::Backend("unexpected answer".into())),
            Err(e) => Err(SpawnError::Backend(e)),
        }
    }

    fn watch<M: Message>(&mut self, target: &impl ActorRef<M>) {
        let _ = self.io.send(ToHost::Watch {
            target: target.id(),
        });
    }

    fn stop(&mut self) {
        self.io.stop_requested = true;
    }

    fn now(&self) -> Duration {
        self.io.now()
    }
}
