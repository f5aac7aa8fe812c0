//! Rule 7: a clean stop. Both modes, queued messages and pending timers accounted for, the
//! report right.

use std::time::Duration;

use super::WAIT;
use super::actors::{Worker, WorkerMsg};
use super::delivery::{setup, sync};
use crate::{ActorRef, Backend, DeadLetterReason, ExitReason, Failure, Phase, ShutdownMode};

/// A draining shutdown handles everything already queued, then stops every actor.
pub fn drain_handles_everything_queued<B: Backend>(make: &impl Fn(u64) -> B) {
    const N: u64 = 100;
    let (_seed, system, recorder) = setup(make);
    let workers: Vec<_> = (0..3)
        .map(|_| system.spawn(Worker::new(recorder)).unwrap())
        .collect();
    for worker in &workers {
        for tag in 0..N {
            system.send(worker, WorkerMsg::Work(tag)).unwrap();
        }
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    for worker in &workers {
        let actor = report.actor(worker.id()).unwrap();
        assert_eq!(
            (
                actor.ledger.accepted,
                actor.ledger.handled,
                actor.ledger.dead_letters
            ),
            (N, N, 0)
        );
        assert_eq!(actor.exit, ExitReason::Shutdown);
    }
    assert!(report.is_balanced(), "{report:#?}");
    assert!(report.unresponsive.is_empty());
}

/// A dead-letter shutdown lets each actor finish its current message and dead-letters the
/// rest: every accepted message is handled or a dead letter, and the dead letters hold their
/// messages.
pub fn dead_letter_mode_balances_the_ledger<B: Backend>(make: &impl Fn(u64) -> B) {
    const N: u64 = 1000;
    let (_seed, system, _recorder) = setup(make);
    // No recorder for this worker: a handler that sends to an actor stopping at the same time
    // could fail, and this test is about what is queued.
    let worker = system.spawn(Worker::default()).unwrap();
    for tag in 0..N {
        system.send(&worker, WorkerMsg::Work(tag)).unwrap();
    }
    let report = system.shutdown(ShutdownMode::DeadLetter, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(actor.ledger.accepted, N);
    assert!(report.is_balanced(), "{report:#?}");
    let held: Vec<u64> = report
        .dead_letters
        .iter()
        .filter(|d| d.to == worker.id())
        .map(|d| {
            assert_eq!(d.reason, DeadLetterReason::Shutdown);
            match d.message_as::<WorkerMsg>() {
                Some(WorkerMsg::Work(tag)) => *tag,
                other => panic!("dead letter holds {other:?}"),
            }
        })
        .collect();
    assert_eq!(
        held.len() as u64,
        actor.ledger.dead_letters,
        "every dead letter holds its message"
    );
    // The dead letters are the last messages sent, in order.
    assert_eq!(held, (actor.ledger.handled..N).collect::<Vec<_>>());
}

/// An actor that stops itself with messages queued dead-letters them; later sends fail.
pub fn stop_with_queued_messages_dead_letters_them<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.send(&worker, WorkerMsg::Stop(0)).unwrap();
    let accepted_after_stop = (1..=20)
        .filter(|tag| system.send(&worker, WorkerMsg::Work(*tag)).is_ok())
        .count() as u64;
    sync(&system, &worker, 21);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(actor.exit, ExitReason::Stopped);
    assert_eq!(actor.ledger.handled, 1, "only the stop itself is handled");
    // The stop, what was accepted after it, and the sync's ask if it came in time.
    let expected = 1 + accepted_after_stop..=2 + accepted_after_stop;
    assert!(
        expected.contains(&actor.ledger.accepted),
        "accepted {}",
        actor.ledger.accepted
    );
    assert!(report.is_balanced(), "{report:#?}");
    assert!(
        report
            .dead_letters
            .iter()
            .filter(|d| d.to == worker.id())
            .all(|d| d.reason == DeadLetterReason::ReceiverGone)
    );
}

/// A timer that is not yet due at shutdown becomes a dead letter: accepted, never lost.
pub fn pending_timers_become_dead_letters<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system
        .send(
            &worker,
            WorkerMsg::Schedule {
                tag: 1,
                delay: Duration::from_secs(3600),
            },
        )
        .unwrap();
    sync(&system, &worker, 2);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(
        (
            actor.ledger.accepted,
            actor.ledger.handled,
            actor.ledger.dead_letters
        ),
        (3, 2, 1)
    );
    let timer = report
        .dead_letters
        .iter()
        .find(|d| d.to == worker.id())
        .expect("the timer's dead letter");
    assert_eq!(timer.reason, DeadLetterReason::Shutdown);
    assert!(matches!(
        timer.message_as::<WorkerMsg>(),
        Some(WorkerMsg::Fired { tag: 1, .. })
    ));
}

/// An actor that stops itself in `started` stops then, without waiting for a message.
pub fn stop_in_started_takes_effect_at_once<B: Backend>(make: &impl Fn(u64) -> B) {
    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct Brief;
    impl crate::Actor for Brief {
        type Msg = ();
        fn started<C: crate::Context<Self>>(
            &mut self,
            ctx: &mut C,
        ) -> Result<(), crate::ActorError> {
            ctx.stop();
            Ok(())
        }
        fn handle<C: crate::Context<Self>>(
            &mut self,
            _: &mut C,
            (): (),
        ) -> Result<(), crate::ActorError> {
            Ok(())
        }
    }
    let (_seed, system, recorder) = setup(make);
    let watcher = system.spawn(Worker::new(recorder)).unwrap();
    let brief = system.spawn(Brief).unwrap();
    system
        .send(&watcher, WorkerMsg::Watch(1, brief.id()))
        .unwrap();
    let expected = super::actors::Event::Signal {
        actor: watcher.id(),
        signal: crate::Signal::Terminated {
            id: brief.id(),
            reason: ExitReason::Stopped,
        },
    };
    super::wait_for(&system, &recorder, |e| e.contains(&expected));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.actor(brief.id()).unwrap().exit, ExitReason::Stopped);
    assert!(report.is_balanced());
}

/// An actor that fails while a `Drain` shutdown drains is supervised as at any other time
/// (rule 7): restarted within its limit, so the rest of its queue is handled. Of 1,000
/// messages queued from outside, the 500th fails: 999 are handled, the failing one is the one
/// dead letter (`FailedWhileHandling`), one restart, its failure record says restarted, and
/// nothing escalates.
pub fn a_failure_while_draining_is_restarted_and_its_queue_drains<B: Backend>(
    make: &impl Fn(u64) -> B,
) {
    const N: u64 = 1_000;
    const FAILING: u64 = 500;
    let (_seed, system, _recorder) = setup(make);
    // No recorder: what it handled is in its ledger.
    let worker = system.spawn(Worker::default()).unwrap();
    for tag in 1..=N {
        let msg = if tag == FAILING {
            WorkerMsg::Fail(tag)
        } else {
            WorkerMsg::Work(tag)
        };
        system.send(&worker, msg).unwrap();
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(
        (
            actor.ledger.accepted,
            actor.ledger.handled,
            actor.ledger.dead_letters,
            actor.restarts
        ),
        (N, N - 1, 1, 1),
        "(accepted, handled, dead letters, restarts); {report}; failures {:?}",
        report.failures
    );
    let failures: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.actor == worker.id())
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].restarted, "{failures:?}");
    assert_eq!(
        failures[0].failure,
        crate::Failure::Error(format!("told to fail at {FAILING}"))
    );
    assert!(report.escalations.is_empty(), "{:?}", report.escalations);
    let dead: Vec<_> = report
        .dead_letters
        .iter()
        .filter(|d| d.to == worker.id())
        .map(|d| d.reason)
        .collect();
    assert_eq!(dead, [DeadLetterReason::FailedWhileHandling]);
    assert!(report.is_balanced(), "{report:#?}");
}

/// A `DeadLetter` shutdown restarts nothing (rule 7): an actor whose message fails while the
/// shutdown is under way (the handler sleeps first, so on thread and process the failure
/// lands during it) is not restarted, and what is queued behind it is dead-lettered, never
/// handled by a restarted instance.
pub fn dead_letter_mode_restarts_nothing<B: Backend>(make: &impl Fn(u64) -> B) {
    const QUEUED: u64 = 1_000;
    let (_seed, system, _recorder) = setup(make);
    let worker = system.spawn(Worker::default()).unwrap();
    // Started and running before the failing message (this runs nothing else on inline).
    sync(&system, &worker, 1);
    let failing = WorkerMsg::Sleep {
        tag: 2,
        duration: Duration::from_millis(50),
        fail: true,
    };
    system.send(&worker, failing).unwrap();
    // What a restarted instance would handle (and, on thread and process, time for the
    // failing message to reach its handler before the shutdown begins).
    for tag in 3..QUEUED + 3 {
        system.send(&worker, WorkerMsg::Work(tag)).unwrap();
    }
    let report = system.shutdown(ShutdownMode::DeadLetter, WAIT);
    let restarted: Vec<_> = report.failures.iter().filter(|f| f.restarted).collect();
    assert!(
        restarted.is_empty(),
        "restarted during the shutdown: {restarted:?}"
    );
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(actor.restarts, 0, "{report:#?}");
    assert_eq!(
        (actor.ledger.accepted, actor.ledger.handled),
        (QUEUED + 2, 1),
        "only the sync is handled; {report:#?}"
    );
    assert!(report.is_balanced(), "{report:#?}");
}

/// Shutdown, in either mode, runs the `stopped` hook of every actor that started and stops in
/// time: a hook that panics shows it, as one failure in phase `Stopped` per actor.
pub fn shutdown_runs_the_stopped_hook_of_every_started_actor<B: Backend>(make: &impl Fn(u64) -> B) {
    for mode in [ShutdownMode::Drain, ShutdownMode::DeadLetter] {
        let (_seed, system, recorder) = setup(make);
        let workers: Vec<_> = (0..3)
            .map(|_| {
                system
                    .spawn(Worker::new(recorder).panicking_in_stopped())
                    .unwrap()
            })
            .collect();
        for (tag, worker) in (1..).zip(&workers) {
            sync(&system, worker, tag);
        }
        let report = system.shutdown(mode, WAIT);
        for worker in &workers {
            let phases: Vec<_> = report
                .failures
                .iter()
                .filter(|f| f.actor == worker.id())
                .map(|f| (f.phase, f.failure.clone()))
                .collect();
            assert_eq!(
                phases,
                [(
                    Phase::Stopped,
                    Failure::Panic("told to panic in stopped".into())
                )],
                "{mode:?}: {report:#?}"
            );
            assert_eq!(
                report.actor(worker.id()).unwrap().exit,
                ExitReason::Shutdown
            );
        }
        assert!(report.is_balanced(), "{mode:?}: {report:#?}");
    }
}
