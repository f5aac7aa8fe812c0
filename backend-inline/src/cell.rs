//! An actor's code and state behind a type-erased interface, so the scheduler can run actors of
//! every type from one table. Every hook runs under the kernel's `catch`: a panic is a failure
//! of the one actor, never of the system.

use actor_core::kernel::{Caught, catch, catch_stopped};
use actor_core::{Actor, ActorId, DeadLetterReason, Failure, Phase, Signal};

use crate::context::InlineContext;
use crate::mailbox::typed;
use crate::scheduler::{Core, Fault};

/// What handling the next message came to.
pub(crate) enum Step {
    Handled,
    /// The handler failed; the message has been dead-lettered.
    Failed(Caught),
    Idle,
}

pub(crate) trait Cell: Send {
    fn start(&mut self, core: &mut Core, id: ActorId) -> Result<(), Caught>;
    fn handle_next(&mut self, core: &mut Core, id: ActorId) -> Step;
    fn signal(&mut self, core: &mut Core, id: ActorId, signal: Signal) -> Result<(), Caught>;
    fn stopped(&mut self) -> Result<(), Caught>;
    /// Back to the initial state, for a restart.
    fn reset(&mut self);
}

/// The initial state (kept for restarts) and the current one.
pub(crate) struct ActorCell<A> {
    initial: A,
    current: A,
}

impl<A: Actor> ActorCell<A> {
    pub fn new(actor: A) -> Self {
        Self {
            initial: actor.clone(),
            current: actor,
        }
    }
}

impl<A: Actor> Cell for ActorCell<A> {
    fn start(&mut self, core: &mut Core, id: ActorId) -> Result<(), Caught> {
        let mut ctx = InlineContext::<A>::new(core, id);
        catch(Phase::Started, || self.current.started(&mut ctx))
    }

    fn handle_next(&mut self, core: &mut Core, id: ActorId) -> Step {
        let Some(slot) = core.slot_mut(id) else {
            return Step::Idle;
        };
        let Some(env) = typed::<A::Msg>(slot.mailbox.as_mut()).and_then(|m| m.queue.pop_front())
        else {
            return Step::Idle;
        };
        slot.messages_begun += 1;
        let nth = slot.messages_begun;
        let injected = !core.faults.is_empty()
            && core
                .faults
                .contains(&Fault::FailAtMessage { actor: id, nth });
        let result = if injected {
            Err(Caught {
                phase: Phase::Handle,
                failure: Failure::Panic(format!("injected fault at message {nth}")),
            })
        } else {
            let mut ctx = InlineContext::<A>::new(core, id);
            let msg = env.msg;
            catch(Phase::Handle, || self.current.handle(&mut ctx, msg))
        };
        match result {
            Ok(()) => {
                if let Some(slot) = core.slot_mut(id) {
                    slot.ledger.handled += 1;
                }
                core.record_handled(id, env.from, env.seq);
                Step::Handled
            }
            Err(caught) => {
                // The message was moved into the handler: the dead letter cannot hold it.
                core.dead_letter(id, DeadLetterReason::FailedWhileHandling, None);
                if let Some(request) = env.request {
                    core.complete_ask(
                        request,
                        Err(actor_core::AskError::ReceiverFailed(caught.failure.clone())),
                    );
                }
                Step::Failed(caught)
            }
        }
    }

    fn signal(&mut self, core: &mut Core, id: ActorId, signal: Signal) -> Result<(), Caught> {
        let mut ctx = InlineContext::<A>::new(core, id);
        catch(Phase::Signal, || self.current.signal(&mut ctx, signal))
    }

    fn stopped(&mut self) -> Result<(), Caught> {
        catch_stopped(|| self.current.stopped())
    }

    fn reset(&mut self) {
        self.current = self.initial.clone();
    }
}
