//! Runs actors: one step picks an actor with work (seeded) and runs one of its hooks, its
//! `started`, one signal or one message, then applies supervision and a requested stop. An
//! actor's code and state sit in the table behind the scheduler's type-erased `Cell`; every hook
//! runs under the kernel's `catch`: a panic is a failure of the one actor, never of the system.

use actor_core::kernel::{Caught, catch, catch_stopped};
use actor_core::{
    Actor, ActorId, Addr, DeadLetterReason, ExitReason, Failure, Phase, Signal, SpawnError,
    SpawnOptions,
};

use crate::context::InlineContext;
use crate::mailbox::{Mailbox, typed};
use crate::scheduler::{Cell, Core, Fault, Status, Step};
use crate::supervisor::{fail, run_stopped, terminate};

/// Adds an actor to the system, ready to start. `parent` is `None` for a top-level actor.
pub(crate) fn spawn<A: Actor>(
    core: &mut Core,
    actor: A,
    options: SpawnOptions,
    parent: Option<ActorId>,
) -> Result<Addr<A::Msg>, SpawnError> {
    let cell = Box::new(ActorCell::new(actor));
    let mailbox = Box::new(Mailbox::<A::Msg>::new());
    core.add_actor(cell, mailbox, options, parent)
        .map(Addr::from_id)
}

/// Runs one step of one actor picked at random among those with work. `false` when none has.
pub(crate) fn step(core: &mut Core) -> bool {
    let Some((pos, id)) = core.pick() else {
        return false;
    };
    run_one(core, id);
    core.settle(pos, id);
    true
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
                core.trace.record(id, env.from, env.seq);
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

/// Runs one step of actor `id`: its `started`, one signal, or one message; then applies
/// supervision and a requested stop.
fn run_one(core: &mut Core, id: ActorId) {
    let Some(slot) = core.slot_mut(id) else {
        return;
    };
    let Some(mut cell) = slot.cell.take() else {
        return;
    };
    match slot.status {
        Status::Starting => {
            slot.starts_begun += 1;
            let nth = slot.starts_begun;
            let injected = core.faults.contains(&Fault::FailAtStart { actor: id, nth });
            let result = if injected {
                Err(Caught {
                    phase: Phase::Started,
                    failure: Failure::Panic(format!("injected fault at start {nth}")),
                })
            } else {
                cell.start(core, id)
            };
            match result {
                Ok(()) => {
                    if let Some(slot) = core.slot_mut(id) {
                        slot.status = Status::Running;
                    }
                }
                Err(caught) => fail(core, id, cell.as_mut(), caught, false),
            }
        }
        Status::Running => {
            if let Some(signal) = slot.signals.pop_front() {
                if let Err(caught) = cell.signal(core, id, signal) {
                    fail(core, id, cell.as_mut(), caught, true);
                }
            } else if let Step::Failed(caught) = cell.handle_next(core, id) {
                fail(core, id, cell.as_mut(), caught, true);
            }
        }
        Status::Gone(_) => {}
    }
    let Some(slot) = core.slot_mut(id) else {
        return;
    };
    if slot.is_alive() && slot.stop_requested {
        run_stopped(core, id, cell.as_mut());
        terminate(core, id, ExitReason::Stopped);
    }
    if let Some(slot) = core.slot_mut(id)
        && slot.is_alive()
    {
        slot.cell = Some(cell);
    }
}
