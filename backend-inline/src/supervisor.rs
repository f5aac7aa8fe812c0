//! Failures, restarts, stops and death watch: what happens to an actor after one of its hooks
//! returns, and to the messages it still holds.

use std::collections::VecDeque;

use actor_core::{
    ActorId, AskError, DeadLetterReason, ExitReason, Failure, FailureRecord, Phase, Signal,
};

use crate::cell::{Cell, Step};
use crate::scheduler::{Core, Fault, Status};

/// Runs one step of actor `id`: its `started`, one signal, or one message; then applies
/// supervision and a requested stop.
pub(crate) fn run_one(core: &mut Core, id: ActorId) {
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
                Err(Failure::Panic(format!("injected fault at start {nth}")))
            } else {
                cell.start(core, id)
            };
            match result {
                Ok(()) => {
                    if let Some(slot) = core.slot_mut(id) {
                        slot.status = Status::Running;
                    }
                }
                Err(failure) => fail(core, id, cell.as_mut(), Phase::Started, failure, false),
            }
        }
        Status::Running => {
            if let Some(signal) = slot.signals.pop_front() {
                if let Err(failure) = cell.signal(core, id, signal) {
                    fail(core, id, cell.as_mut(), Phase::Signal, failure, true);
                }
            } else if let Step::Failed(failure) = cell.handle_next(core, id) {
                fail(core, id, cell.as_mut(), Phase::Handle, failure, true);
            }
        }
        Status::Gone(_) => {}
    }
    let Some(slot) = core.slot_mut(id) else {
        return;
    };
    if slot.is_alive() && slot.stop_requested {
        run_stopped(core, id, cell.as_mut());
        terminate(
            core,
            id,
            ExitReason::Stopped,
            DeadLetterReason::ReceiverGone,
        );
    }
    if let Some(slot) = core.slot_mut(id)
        && slot.is_alive()
    {
        slot.cell = Some(cell);
    }
}

/// Applies the supervision policy to a failure: restart from the initial state within the
/// limit, otherwise stop and escalate to the parent (or to the system root).
pub(crate) fn fail(
    core: &mut Core,
    id: ActorId,
    cell: &mut dyn Cell,
    phase: Phase,
    failure: Failure,
    was_running: bool,
) {
    if was_running {
        run_stopped(core, id, cell);
    }
    let now = core.now;
    let Some(slot) = core.slot_mut(id) else {
        return;
    };
    let restarted = slot.budget.try_restart(now);
    let parent = slot.parent;
    let record = FailureRecord {
        actor: id,
        phase,
        failure: failure.clone(),
        restarted,
    };
    core.failures.push(record.clone());
    if restarted {
        let Some(slot) = core.slot_mut(id) else {
            return;
        };
        slot.restarts += 1;
        slot.stop_requested = false;
        slot.status = Status::Starting;
        cell.reset();
        core.mark_ready(id);
        return;
    }
    terminate(
        core,
        id,
        ExitReason::Failed(failure.clone()),
        DeadLetterReason::ReceiverGone,
    );
    match parent {
        Some(parent) if core.slot(parent).is_some_and(|p| p.is_alive()) => {
            core.signal(parent, Signal::Escalated { child: id, failure });
        }
        _ => core.escalations.push(record),
    }
}

/// Runs the `stopped` hook; a panic there is recorded and changes nothing else.
pub(crate) fn run_stopped(core: &mut Core, id: ActorId, cell: &mut dyn Cell) {
    if let Err(failure) = cell.stopped() {
        core.failures.push(FailureRecord {
            actor: id,
            phase: Phase::Stopped,
            failure,
            restarted: false,
        });
    }
}

/// Marks the actor gone, dead-letters what it still holds (failing the asks among them) and
/// tells its watchers.
pub(crate) fn terminate(
    core: &mut Core,
    id: ActorId,
    reason: ExitReason,
    dead_letter_reason: DeadLetterReason,
) {
    let Some(slot) = core.slot_mut(id) else {
        return;
    };
    slot.status = Status::Gone(reason.clone());
    slot.signals.clear();
    slot.cell = None;
    let watchers = std::mem::take(&mut slot.watchers);
    while let Some(env) = core.slot_mut(id).and_then(|s| s.mailbox.pop_erased()) {
        core.dead_letter(id, dead_letter_reason, Some(env.msg));
        if let Some(request) = env.request {
            core.complete_ask(request, Err(AskError::ReceiverStopped));
        }
    }
    // What is left of a gone actor is its report: the queue's memory (its peak, after a
    // backlog) goes back now, not at shutdown.
    if let Some(slot) = core.slot_mut(id) {
        slot.mailbox.release();
        slot.signals = VecDeque::new();
    }
    for watcher in watchers {
        core.signal(
            watcher,
            Signal::Terminated {
                id,
                reason: reason.clone(),
            },
        );
    }
}

/// Stops every live actor for shutdown, in id order: `stopped` for those that started, then
/// whatever they still hold becomes a dead letter.
pub(crate) fn stop_all(core: &mut Core) {
    for index in 0..core.slots.len() {
        let id = ActorId::new(index as u64);
        let Some(slot) = core.slot_mut(id) else {
            continue;
        };
        if !slot.is_alive() {
            continue;
        }
        let started = matches!(slot.status, Status::Running);
        if let Some(mut cell) = slot.cell.take()
            && started
        {
            run_stopped(core, id, cell.as_mut());
        }
        terminate(core, id, ExitReason::Shutdown, DeadLetterReason::Shutdown);
    }
}
