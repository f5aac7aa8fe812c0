//! Rule 6: supervision and death watch. Restart from the initial state within the limit, then
//! stop and escalate; failures reported with their cause; `Terminated` with the cause.

use std::time::Duration;

use super::actors::{Event, Worker, WorkerMsg};
use super::delivery::{handled_by, setup, sync};
use super::{WAIT, events, wait_for};
use crate::{
    ActorRef, Addr, Backend, ExitReason, Failure, Phase, RestartLimit, ShutdownMode, Signal,
    SpawnOptions, Supervision,
};

fn limit(restarts: u32) -> Supervision {
    Supervision::Restart(RestartLimit::new(restarts, Duration::from_secs(60)))
}

fn spawn_child<B: Backend>(
    system: &B,
    parent: &Addr<WorkerMsg>,
    supervision: Supervision,
    fail_in_started: bool,
) -> Addr<WorkerMsg> {
    spawn_child_of(system, parent, supervision, fail_in_started, false)
}

fn spawn_child_of<B: Backend>(
    system: &B,
    parent: &Addr<WorkerMsg>,
    supervision: Supervision,
    fail_in_started: bool,
    fails_on_escalation: bool,
) -> Addr<WorkerMsg> {
    system
        .ask(
            parent,
            |reply| WorkerMsg::SpawnChild {
                tag: 0,
                supervision,
                fail_in_started,
                fails_on_escalation,
                reply,
            },
            WAIT,
        )
        .expect("the parent spawns its child")
}

/// A child that keeps failing is restarted up to its limit, then stops, and its supervisor
/// receives `Escalated` with the last failure.
pub fn restarts_up_to_the_limit_then_escalates<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let parent = system.spawn(Worker::new(recorder)).unwrap();
    let child = spawn_child(&system, &parent, limit(2), false);
    for tag in 1..=3 {
        system.send(&child, WorkerMsg::Panic(tag)).unwrap();
    }
    let escalated = Event::Signal {
        actor: parent.id(),
        signal: Signal::Escalated {
            child: child.id(),
            failure: Failure::Panic("told to panic at 3".into()),
        },
    };
    let seen = wait_for(&system, &recorder, |e| e.contains(&escalated));
    let starts = seen
        .iter()
        .filter(|e| **e == Event::Started { actor: child.id() })
        .count();
    assert_eq!(starts, 3, "the first start and two restarts");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let record = report.actor(child.id()).unwrap();
    assert_eq!(record.restarts, 2);
    assert_eq!(
        record.exit,
        ExitReason::Failed(Failure::Panic("told to panic at 3".into()))
    );
    let restarted: Vec<bool> = report
        .failures
        .iter()
        .filter(|f| f.actor == child.id())
        .map(|f| f.restarted)
        .collect();
    assert_eq!(restarted, [true, true, false]);
    assert!(
        report.escalations.is_empty(),
        "the parent took the escalation"
    );
    assert!(report.is_balanced());
}

/// A failure in `started` is a failure like any other: reported with its phase, counted
/// against the limit, escalated past it.
pub fn failure_in_started_counts_against_the_limit<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let parent = system.spawn(Worker::new(recorder)).unwrap();
    let child = spawn_child(&system, &parent, limit(3), true);
    let failure = Failure::Error("told to fail in started".into());
    let escalated = Event::Signal {
        actor: parent.id(),
        signal: Signal::Escalated {
            child: child.id(),
            failure: failure.clone(),
        },
    };
    wait_for(&system, &recorder, |e| e.contains(&escalated));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let failures: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.actor == child.id())
        .collect();
    assert_eq!(failures.len(), 4);
    assert!(
        failures
            .iter()
            .all(|f| f.phase == Phase::Started && f.failure == failure)
    );
    assert_eq!(report.actor(child.id()).unwrap().restarts, 3);
}

/// A top-level actor that fails past its limit escalates to the system root: the report lists
/// it.
pub fn escalation_to_the_root_is_reported<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system
        .spawn_with(
            Worker::new(recorder),
            SpawnOptions::new().supervision(Supervision::Stop),
        )
        .unwrap();
    system.send(&worker, WorkerMsg::Fail(1)).unwrap();
    sync(&system, &worker, 2);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.escalations.len(), 1, "{report:#?}");
    let escalation = &report.escalations[0];
    assert_eq!(
        (escalation.actor, escalation.restarted),
        (worker.id(), false)
    );
    assert_eq!(
        escalation.failure,
        Failure::Error("told to fail at 1".into())
    );
    assert!(report.is_balanced());
}

/// An escalation its supervisor does not handle travels on up: a grandchild that fails past
/// its limit escalates to its parent, which fails with the escalation (as the default
/// `Actor::signal` does) and, past its own limit, escalates that to the top, with the first
/// failure as the cause.
pub fn an_unhandled_escalation_travels_two_levels_up<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let top = system.spawn(Worker::new(recorder)).unwrap();
    let middle = spawn_child_of(&system, &top, Supervision::Stop, false, true);
    let bottom = spawn_child_of(&system, &middle, Supervision::Stop, false, false);
    system.send(&bottom, WorkerMsg::Panic(1)).unwrap();
    let cause = Failure::Panic("told to panic at 1".into());
    let escalated = Failure::Escalation {
        child: bottom.id(),
        cause: Box::new(cause.clone()),
    };
    let at_top = Event::Signal {
        actor: top.id(),
        signal: Signal::Escalated {
            child: middle.id(),
            failure: escalated.clone(),
        },
    };
    let seen = wait_for(&system, &recorder, |e| e.contains(&at_top));
    let at_middle = Event::Signal {
        actor: middle.id(),
        signal: Signal::Escalated {
            child: bottom.id(),
            failure: cause.clone(),
        },
    };
    assert!(seen.contains(&at_middle), "{seen:#?}");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(
        report.actor(bottom.id()).unwrap().exit,
        ExitReason::Failed(cause)
    );
    assert_eq!(
        report.actor(middle.id()).unwrap().exit,
        ExitReason::Failed(escalated)
    );
    assert_eq!(report.actor(top.id()).unwrap().exit, ExitReason::Shutdown);
    assert!(
        report.escalations.is_empty(),
        "the top took it: {report:#?}"
    );
    assert!(report.is_balanced());
}

/// An address taken before a restart reaches the restarted actor, which starts from its
/// initial state.
pub fn ref_taken_before_restart_reaches_the_restarted_actor<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    let kept = worker;
    system.send(&worker, WorkerMsg::Work(1)).unwrap();
    system.send(&worker, WorkerMsg::Panic(2)).unwrap();
    assert_eq!(system.ask(&kept, |r| WorkerMsg::Echo(3, r), WAIT), Ok(3));
    // Fresh state: the restarted instance has handled the echo and this count only.
    assert_eq!(system.ask(&kept, |r| WorkerMsg::Count(4, r), WAIT), Ok(2));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// A panic in `stopped` is reported and harms nothing else.
pub fn panic_in_stopped_is_reported<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system
        .spawn(Worker::new(recorder).panicking_in_stopped())
        .unwrap();
    system.send(&worker, WorkerMsg::Stop(1)).unwrap();
    sync(&system, &worker, 2);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let stopped: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.actor == worker.id())
        .collect();
    assert_eq!(stopped.len(), 1, "{report:#?}");
    assert_eq!(stopped[0].phase, Phase::Stopped);
    assert_eq!(
        stopped[0].failure,
        Failure::Panic("told to panic in stopped".into())
    );
    assert_eq!(report.actor(worker.id()).unwrap().exit, ExitReason::Stopped);
    assert!(report.is_balanced());
}

fn watch<B: Backend>(system: &B, watcher: &Addr<WorkerMsg>, target: &Addr<WorkerMsg>) {
    system
        .send(watcher, WorkerMsg::Watch(100, target.id()))
        .unwrap();
    sync(system, watcher, 101);
}

/// A watcher gets `Terminated` with reason `Stopped` when the watched actor stops itself.
pub fn watch_delivers_terminated_on_stop<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let watcher = system.spawn(Worker::new(recorder)).unwrap();
    let target = system.spawn(Worker::new(recorder)).unwrap();
    watch(&system, &watcher, &target);
    system.send(&target, WorkerMsg::Stop(1)).unwrap();
    let expected = Event::Signal {
        actor: watcher.id(),
        signal: Signal::Terminated {
            id: target.id(),
            reason: ExitReason::Stopped,
        },
    };
    wait_for(&system, &recorder, |e| e.contains(&expected));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// A watcher gets `Terminated` carrying the failure when the watched actor fails for good.
pub fn watch_delivers_terminated_with_the_failure<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let watcher = system.spawn(Worker::new(recorder)).unwrap();
    let target = system
        .spawn_with(
            Worker::new(recorder),
            SpawnOptions::new().supervision(Supervision::Stop),
        )
        .unwrap();
    watch(&system, &watcher, &target);
    system.send(&target, WorkerMsg::Panic(1)).unwrap();
    let expected = Event::Signal {
        actor: watcher.id(),
        signal: Signal::Terminated {
            id: target.id(),
            reason: ExitReason::Failed(Failure::Panic("told to panic at 1".into())),
        },
    };
    wait_for(&system, &recorder, |e| e.contains(&expected));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// Watching an actor that is already gone delivers `Terminated` at once, with the reason it
/// went.
pub fn watching_a_dead_actor_delivers_terminated_at_once<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let watcher = system.spawn(Worker::new(recorder)).unwrap();
    let target = system.spawn(Worker::new(recorder)).unwrap();
    system.send(&target, WorkerMsg::Stop(1)).unwrap();
    sync(&system, &target, 2);
    watch(&system, &watcher, &target);
    let expected = Event::Signal {
        actor: watcher.id(),
        signal: Signal::Terminated {
            id: target.id(),
            reason: ExitReason::Stopped,
        },
    };
    let seen = wait_for(&system, &recorder, |e| e.contains(&expected));
    assert_eq!(handled_by(&seen, target.id()), vec![1]);
    assert_eq!(
        events(&system, &recorder)
            .iter()
            .filter(|e| **e == expected)
            .count(),
        1
    );
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}
