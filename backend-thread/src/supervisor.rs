//! Starts, failures, restarts, stops and death watch: what happens to an actor after one of its
//! hooks returns, and to the messages it still holds. Runs on the actor's own thread, with its
//! schedule held (see `pool/runner_only.rs`). The decisions are the kernel's (`actor_core::kernel`);
//! this module applies them to the cell.

use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};

use actor_core::kernel::{
    Caught, Escalation, catch, catch_stopped, dead_letter_reason, escalation, stopped_failure,
    supervise,
};
use actor_core::{Actor, AskError, ExitReason, Phase};

use crate::context::ThreadContext;
use crate::pool::cell::{ActorCell, Instance, Status};
use crate::pool::shared::Shared;

/// Runs `started`; a failure there is supervised like any other.
pub(crate) fn start<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
) {
    let result = {
        let mut ctx = ThreadContext::new(shared, cell, cell.outbox(&mut instance.outbox));
        catch(Phase::Started, || instance.current.started(&mut ctx))
    };
    match result {
        Ok(()) => instance.status = Status::Running,
        Err(caught) => fail(cell, instance, shared, caught),
    }
}

/// Applies the kernel's decision to a failure: restart from the initial state (the queue is
/// kept), or stop and escalate to the parent, or to the system root.
pub(crate) fn fail<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
    caught: Caught,
) {
    if instance.status == Status::Running {
        run_stopped(cell, instance, shared);
    }
    let record = supervise(
        &mut instance.budget,
        shared.stage(),
        shared.now(),
        cell.id(),
        caught,
    );
    shared.record_failure(record.clone());
    if record.restarted {
        cell.restarts.fetch_add(1, SeqCst);
        instance.current = instance.initial.clone();
        instance.status = Status::Starting;
        cell.stop_requested.store(false, Relaxed);
        return;
    }
    terminate(
        cell,
        instance,
        shared,
        ExitReason::Failed(record.failure.clone()),
    );
    let delivered = match escalation(&record, instance.parent) {
        Escalation::Parent { parent, signal } => shared
            .entry(parent)
            .is_some_and(|entry| entry.signal(shared, parent, signal)),
        Escalation::Root(_) => false,
    };
    // No actor above to take it (none, or gone): the system root takes it.
    if !delivered {
        shared.record_escalation(record);
    }
}

/// Runs `stopped`; a panic there is recorded and changes nothing else.
pub(crate) fn run_stopped<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
) {
    if let Err(caught) = catch_stopped(|| instance.current.stopped()) {
        shared.record_failure(stopped_failure(cell.id(), caught));
    }
}

/// Marks the actor gone, dead-letters everything it had accepted (failing the asks among
/// them), and tells its watchers.
pub(crate) fn terminate<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
    reason: ExitReason,
) {
    let dead = dead_letter_reason(&reason);
    instance.status = Status::Gone;
    // What it handled is counted before it is reported gone (a shutdown reads the report then).
    let handled = std::mem::take(&mut instance.unsettled);
    // Closed and ended in one lock: a watch from now on is answered with `reason`.
    let watchers = cell.mailbox.close_and_drain(
        handled,
        |life| life.end(reason.clone()),
        |env| {
            if let Some(request) = env.request {
                shared.complete_ask(request.get(), Err(AskError::ReceiverStopped));
            }
            shared.dead_letter(cell.id(), dead, Some(Box::new(env.msg)));
        },
    );
    // Release: whoever sees the actor counted gone (`actor_gone` below, a `SeqCst` count that
    // shutdown reads) sees this too.
    cell.gone.store(true, Release);
    for (watcher, signal) in watchers.notices(cell.id(), &reason) {
        if let Some(entry) = shared.entry(watcher) {
            entry.signal(shared, watcher, signal);
        }
    }
    shared.actor_gone();
}
