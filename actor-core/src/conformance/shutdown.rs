//! Rule 7: a clean stop. Both modes, queued messages and pending timers accounted for, the
//! report right.

use std::time::Duration;

use super::WAIT;
use super::actors::{Worker, WorkerMsg};
use super::delivery::{setup, sync};
use crate::{ActorRef, Backend, DeadLetterReason, ExitReason, ShutdownMode};

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
