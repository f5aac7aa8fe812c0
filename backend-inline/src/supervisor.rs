//! Failures, restarts, stops and death watch: what happens to an actor after one of its hooks
//! returns, and to the messages it still holds. The decisions are the kernel's
//! (`actor_core::kernel`); this module applies them to the actor table.

use std::collections::VecDeque;

use actor_core::kernel::{
    Caught, Escalation, dead_letter_reason, escalation, stopped_failure, supervise,
};
use actor_core::{ActorId, AskError, ExitReason};

use crate::scheduler::{Cell, Core, Status};

/// Applies the kernel's decision to a failure: restart from the initial state (the queue is
/// kept), or stop and escalate to the parent (or to the system root).
pub(crate) fn fail(
    core: &mut Core,
    id: ActorId,
    cell: &mut dyn Cell,
    caught: Caught,
    was_running: bool,
) {
    if was_running {
        run_stopped(core, id, cell);
    }
    let (now, stage) = (core.now(), core.stage);
    let Some(slot) = core.slot_mut(id) else {
        return;
    };
    let record = supervise(&mut slot.budget, stage, now, id, caught);
    let parent = slot.parent;
    core.records.failure(record.clone());
    if record.restarted {
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
    terminate(core, id, ExitReason::Failed(record.failure.clone()));
    let parent = parent.filter(|&p| core.slot(p).is_some_and(|p| p.is_alive()));
    match escalation(&record, parent) {
        Escalation::Parent { parent, signal } => core.signal(parent, signal),
        Escalation::Root(record) => core.records.escalation(record),
    }
}

/// Runs the `stopped` hook; a panic there is recorded and changes nothing else.
pub(crate) fn run_stopped(core: &mut Core, id: ActorId, cell: &mut dyn Cell) {
    if let Err(caught) = cell.stopped() {
        core.records.failure(stopped_failure(id, caught));
    }
}

/// Marks the actor gone, dead-letters what it still holds (failing the asks among them) and
/// tells its watchers.
pub(crate) fn terminate(core: &mut Core, id: ActorId, reason: ExitReason) {
    let dead = dead_letter_reason(&reason);
    let Some(slot) = core.slot_mut(id) else {
        return;
    };
    slot.status = Status::Gone(reason.clone());
    slot.signals.clear();
    slot.cell = None;
    let watchers = slot.watchers.take();
    while let Some(env) = core.slot_mut(id).and_then(|s| s.mailbox.pop_erased()) {
        core.dead_letter(id, dead, Some(env.msg));
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
    for (watcher, signal) in watchers.notices(id, &reason) {
        core.signal(watcher, signal);
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
        terminate(core, id, ExitReason::Shutdown);
    }
}
