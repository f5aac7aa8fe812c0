//! Starts, failures, restarts, stops and death watch: what happens to an actor after one of its
//! hooks returns, and to the messages it still holds. Runs on the actor's own thread, with its
//! schedule held (see `runner_only.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};

use actor_core::{
    Actor, AskError, DeadLetterReason, ExitReason, Failure, FailureRecord, Phase, Signal,
};

use crate::cell::{ActorCell, Instance, Status, caught};
use crate::context::ThreadContext;
use crate::system::Shared;

/// Runs `started`; a failure there is supervised like any other.
pub(crate) fn start<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
) {
    let result = {
        let mut ctx = ThreadContext::new(shared, cell, cell.outbox(&mut instance.outbox));
        caught(|| instance.current.started(&mut ctx))
    };
    match result {
        Ok(()) => instance.status = Status::Running,
        Err(failure) => fail(cell, instance, shared, Phase::Started, failure),
    }
}

/// Applies the supervision policy: restart from the initial state within the limit (the queue
/// is kept), otherwise stop and escalate to the parent, or to the system root.
pub(crate) fn fail<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
    phase: Phase,
    failure: Failure,
) {
    if instance.status == Status::Running {
        run_stopped(cell, instance, shared);
    }
    // No restart once shutdown has begun: the actor is stopping anyway.
    let restarted = !shared.is_stopping() && instance.budget.try_restart(shared.now());
    let record = FailureRecord {
        actor: cell.id(),
        phase,
        failure: failure.clone(),
        restarted,
    };
    shared.record_failure(record.clone());
    if restarted {
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
        ExitReason::Failed(failure.clone()),
        DeadLetterReason::ReceiverGone,
    );
    let escalated = instance.parent.is_some_and(|parent| {
        shared.entry(parent).is_some_and(|entry| {
            let signal = Signal::Escalated {
                child: cell.id(),
                failure,
            };
            entry.signal(shared, parent, signal)
        })
    });
    // No actor above to take it (none, or gone): the system root takes it.
    if !escalated {
        shared.record_escalation(record);
    }
}

/// Runs `stopped`; a panic there is recorded and changes nothing else.
pub(crate) fn run_stopped<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
) {
    let result = caught(|| {
        instance.current.stopped();
        Ok(())
    });
    if let Err(failure) = result {
        shared.record_failure(FailureRecord {
            actor: cell.id(),
            phase: Phase::Stopped,
            failure,
            restarted: false,
        });
    }
}

/// Marks the actor gone, dead-letters everything it had accepted (failing the asks among
/// them), and tells its watchers.
pub(crate) fn terminate<A: Actor>(
    cell: &ActorCell<A>,
    instance: &mut Instance<A>,
    shared: &Arc<Shared>,
    reason: ExitReason,
    dead_letter_reason: DeadLetterReason,
) {
    instance.status = Status::Gone;
    // What it handled is counted before it is reported gone (a shutdown reads the report then).
    let handled = std::mem::take(&mut instance.unsettled);
    // Closed and ended in one lock: a watch from now on is answered with `reason`.
    let (first, more) = cell.mailbox.close_and_drain(
        handled,
        |life| life.end(reason.clone()),
        |env| {
            if let Some(request) = env.request {
                shared.complete_ask(request.get(), Err(AskError::ReceiverStopped));
            }
            shared.dead_letter(cell.id(), dead_letter_reason, Some(Box::new(env.msg)));
        },
    );
    // Release: whoever sees the actor counted gone (`actor_gone` below, a `SeqCst` count that
    // shutdown reads) sees this too.
    cell.gone.store(true, Release);
    for watcher in first.into_iter().chain(more) {
        if let Some(entry) = shared.entry(watcher) {
            entry.signal(
                shared,
                watcher,
                Signal::Terminated {
                    id: cell.id(),
                    reason: reason.clone(),
                },
            );
        }
    }
    shared.actor_gone();
}
