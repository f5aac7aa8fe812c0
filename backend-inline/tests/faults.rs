//! Deterministic fault injection, and the edges of supervision that need the inline backend's
//! single thread to observe (hook order through shared memory).

use std::sync::Mutex;
use std::time::Duration;

use actor_core::conformance::actors::{Event, Recorder, Worker, WorkerMsg};
use actor_core::conformance::events;
use actor_core::{
    Actor, ActorError, ActorRef, Backend, Context, DeadLetterReason, ExitReason, Failure, Phase,
    ShutdownMode, SpawnOptions, Supervision,
};
use backend_inline::{Fault, InlineSystem};

const WAIT: Duration = Duration::from_secs(1);

#[test]
fn injected_fault_fails_exactly_the_nth_message() {
    let system = InlineSystem::with_seed(1);
    let recorder = system.spawn(Recorder::default()).unwrap();
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.inject(Fault::FailAtMessage {
        actor: worker.id(),
        nth: 3,
    });
    for tag in 1..=5 {
        system.send(&worker, WorkerMsg::Work(tag)).unwrap();
    }
    system.run_until_idle();
    let handled: Vec<u64> = events(&system, &recorder)
        .into_iter()
        .filter_map(|e| match e {
            Event::Handled { tag, .. } => Some(tag),
            _ => None,
        })
        .collect();
    assert_eq!(handled, [1, 2, 4, 5]);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let failure = &report.failures[0];
    assert_eq!(
        (failure.actor, failure.phase, failure.restarted),
        (worker.id(), Phase::Handle, true)
    );
    assert_eq!(
        failure.failure,
        Failure::Panic("injected fault at message 3".into())
    );
    assert_eq!(
        report.dead_letters[0].reason,
        DeadLetterReason::FailedWhileHandling
    );
    assert!(report.is_balanced());
}

#[test]
fn injected_start_fault_is_restarted_like_any_failure() {
    let system = InlineSystem::with_seed(2);
    let recorder = system.spawn(Recorder::default()).unwrap();
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.inject(Fault::FailAtStart {
        actor: worker.id(),
        nth: 1,
    });
    assert_eq!(system.ask(&worker, |r| WorkerMsg::Echo(5, r), WAIT), Ok(5));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].phase, Phase::Started);
    assert_eq!(report.actor(worker.id()).unwrap().restarts, 1);
}

#[test]
fn injected_faults_past_the_limit_escalate_with_a_balanced_ledger() {
    let system = InlineSystem::with_seed(3);
    let recorder = system.spawn(Recorder::default()).unwrap();
    let options = SpawnOptions::new()
        .supervision(Supervision::Restart(actor_core::RestartLimit::new(1, WAIT)));
    let worker = system.spawn_with(Worker::new(recorder), options).unwrap();
    for nth in 1..=10 {
        system.inject(Fault::FailAtMessage {
            actor: worker.id(),
            nth,
        });
    }
    for tag in 0..10 {
        system.send(&worker, WorkerMsg::Work(tag)).unwrap();
    }
    system.run_until_idle();
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert!(matches!(actor.exit, ExitReason::Failed(_)));
    assert_eq!(
        (
            actor.ledger.accepted,
            actor.ledger.handled,
            actor.ledger.dead_letters
        ),
        (10, 0, 10)
    );
    assert_eq!(report.escalations.len(), 1);
}

/// The hooks of one test's actor, in the order they ran (one log per test: tests run in
/// parallel threads).
static HOOKS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Logged {
    panic_in_started_once: bool,
}

impl Actor for Logged {
    type Msg = bool;

    fn started<C: Context<Self>>(&mut self, _: &mut C) -> Result<(), ActorError> {
        let mut hooks = HOOKS.lock().unwrap();
        hooks.push("started");
        if self.panic_in_started_once && hooks.iter().filter(|h| **h == "started").count() == 1 {
            drop(hooks);
            panic!("first start fails");
        }
        Ok(())
    }

    fn handle<C: Context<Self>>(&mut self, _: &mut C, fail: bool) -> Result<(), ActorError> {
        HOOKS.lock().unwrap().push("handle");
        if fail {
            Err(ActorError::new("asked to fail"))
        } else {
            Ok(())
        }
    }

    fn stopped(&mut self) {
        HOOKS.lock().unwrap().push("stopped");
    }
}

#[test]
fn old_instance_stops_before_new_one_starts_and_a_panic_in_started_is_a_failure() {
    let system = InlineSystem::with_seed(4);
    let actor = system
        .spawn(Logged {
            panic_in_started_once: true,
        })
        .unwrap();
    system.send(&actor, true).unwrap();
    system.send(&actor, false).unwrap();
    system.run_until_idle();
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(
        *HOOKS.lock().unwrap(),
        // A failed start runs no `stopped`; a failed handle does, before the restart.
        [
            "started", "started", "handle", "stopped", "started", "handle", "stopped"
        ]
    );
    let phases: Vec<Phase> = report.failures.iter().map(|f| f.phase).collect();
    assert_eq!(phases, [Phase::Started, Phase::Handle]);
    assert_eq!(
        report.failures[0].failure,
        Failure::Panic("first start fails".into())
    );
    assert!(report.is_balanced());
}

static STOPS_ON_DROP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct CountsStops;

impl Actor for CountsStops {
    type Msg = ();
    fn handle<C: Context<Self>>(&mut self, _: &mut C, (): ()) -> Result<(), ActorError> {
        Ok(())
    }
    fn stopped(&mut self) {
        STOPS_ON_DROP.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_system_stops_its_actors() {
    let system = InlineSystem::with_seed(5);
    for _ in 0..3 {
        let actor = system.spawn(CountsStops).unwrap();
        system
            .ask(
                &actor,
                |_: actor_core::ReplyTo<()>| (),
                Duration::from_millis(1),
            )
            .ok();
    }
    drop(system);
    assert_eq!(
        STOPS_ON_DROP.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "each started actor's `stopped` ran"
    );
}
