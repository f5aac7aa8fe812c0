//! Rules 1, 2, 4 and 8: per-pair FIFO, queued messages kept across restarts, at most once,
//! bounded mailboxes that give the message back, and bad addresses as typed errors.

use std::time::Duration;

use super::actors::{Event, Recorder, RecorderMsg, Worker, WorkerMsg};
use super::{WAIT, events, wait_for};
use crate::seed::{TestSeed, test_seed};
use crate::{
    ActorId, ActorRef, Addr, AskError, Backend, Failure, SendFailure, ShutdownMode, SpawnError,
    SpawnOptions,
};

/// A system with a recorder, and the seed guard that prints the seed if the test fails.
pub(crate) fn setup<B: Backend>(make: &impl Fn(u64) -> B) -> (TestSeed, B, Addr<RecorderMsg>) {
    let seed = test_seed();
    let system = make(seed.get());
    let recorder = system
        .spawn(Recorder::default())
        .expect("spawn the recorder");
    (seed, system, recorder)
}

/// The tags `actor` handled, in order.
pub(crate) fn handled_by(events: &[Event], actor: ActorId) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Handled { actor: a, tag } if *a == actor => Some(*tag),
            _ => None,
        })
        .collect()
}

/// Makes sure everything sent to `to` before has been handled, by asking it; a stopped actor
/// counts as done.
pub(crate) fn sync<B: Backend>(system: &B, to: &Addr<WorkerMsg>, tag: u64) {
    match system.ask(to, |r| WorkerMsg::Count(tag, r), WAIT) {
        Ok(_) | Err(AskError::ReceiverStopped | AskError::Rejected(SendFailure::Stopped)) => {}
        Err(other) => panic!("sync with {to:?} failed: {other}"),
    }
}

/// Four actors and the test itself send numbered messages to one receiver at once; each
/// sender's messages are handled in the order sent.
pub fn per_pair_fifo_with_many_senders<B: Backend>(make: &impl Fn(u64) -> B) {
    const N: u64 = 300;
    let (_seed, system, recorder) = setup(make);
    let receiver = system.spawn(Worker::new(recorder)).unwrap();
    let senders: Vec<_> = (0..4)
        .map(|_| system.spawn(Worker::new(recorder)).unwrap())
        .collect();
    for (k, sender) in senders.iter().enumerate() {
        let first = (k as u64 + 1) * 1_000_000;
        system
            .send(
                sender,
                WorkerMsg::Burst {
                    tag: 0,
                    to: receiver,
                    first,
                    count: N,
                },
            )
            .unwrap();
    }
    for n in 0..N {
        system.send(&receiver, WorkerMsg::Work(n)).unwrap();
    }
    let seen = wait_for(&system, &recorder, |e| {
        handled_by(e, receiver.id()).len() as u64 == 5 * N
    });
    let tags = handled_by(&seen, receiver.id());
    for sender in 0..5u64 {
        let from_sender: Vec<u64> = tags
            .iter()
            .copied()
            .filter(|t| t / 1_000_000 == sender)
            .collect();
        let expected: Vec<u64> = (0..N).map(|n| sender * 1_000_000 + n).collect();
        assert_eq!(
            from_sender, expected,
            "messages from sender {sender} out of order or missing"
        );
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
}

/// Messages queued behind a crashing one are handled by the restarted actor (rule 3).
pub fn queued_messages_survive_restart<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.send(&worker, WorkerMsg::Panic(1)).unwrap();
    for tag in 2..=4 {
        system.send(&worker, WorkerMsg::Work(tag)).unwrap();
    }
    let seen = wait_for(&system, &recorder, |e| {
        handled_by(e, worker.id()).len() == 3
    });
    assert_eq!(handled_by(&seen, worker.id()), vec![2, 3, 4]);
    let starts = seen
        .iter()
        .filter(|e| **e == Event::Started { actor: worker.id() })
        .count();
    assert_eq!(starts, 2, "one start and one restart");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(
        (
            actor.restarts,
            actor.ledger.handled,
            actor.ledger.dead_letters
        ),
        (1, 3, 1)
    );
    assert!(report.is_balanced());
}

/// The message being handled when an actor fails is dead-lettered, never handled again (at most
/// once), whether the handler returned an error or panicked.
pub fn crashing_message_is_not_redelivered<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.send(&worker, WorkerMsg::Fail(1)).unwrap();
    system.send(&worker, WorkerMsg::Panic(2)).unwrap();
    system.send(&worker, WorkerMsg::Work(3)).unwrap();
    sync(&system, &worker, 4);
    assert_eq!(
        handled_by(&events(&system, &recorder), worker.id()),
        vec![3, 4]
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let failures: Vec<&Failure> = report
        .failures
        .iter()
        .filter(|f| f.actor == worker.id())
        .map(|f| &f.failure)
        .collect();
    assert_eq!(
        failures,
        [
            &Failure::Error("told to fail at 1".into()),
            &Failure::Panic("told to panic at 2".into())
        ]
    );
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(
        (
            actor.ledger.accepted,
            actor.ledger.handled,
            actor.ledger.dead_letters
        ),
        (4, 2, 2)
    );
}

/// A send to a full bounded mailbox fails at once with `Full` and gives the message back; what
/// was accepted is all handled.
pub fn full_mailbox_gives_the_message_back<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system
        .spawn_with(Worker::new(recorder), SpawnOptions::new().capacity(1))
        .unwrap();
    let mut accepted = 0;
    let mut refused = None;
    for tag in 0..1_000_000 {
        match system.send(&worker, WorkerMsg::Work(tag)) {
            Ok(()) => accepted += 1,
            Err(err) => {
                assert_eq!(err.reason(), &SendFailure::Full { capacity: 1 });
                assert_eq!(err.to(), worker.id());
                assert!(
                    matches!(err.into_message(), WorkerMsg::Work(t) if t == tag),
                    "the same message comes back"
                );
                refused = Some(tag);
                break;
            }
        }
    }
    assert!(refused.is_some(), "a capacity-1 mailbox never filled");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(
        (actor.ledger.accepted, actor.ledger.handled),
        (accepted, accepted)
    );
}

/// A capacity of 1 works: a producer outside any actor that waits for room gets every message
/// through, in order.
pub fn capacity_one_works_with_backpressure<B: Backend>(make: &impl Fn(u64) -> B) {
    const N: u64 = 200;
    let (_seed, system, recorder) = setup(make);
    let worker = system
        .spawn_with(Worker::new(recorder), SpawnOptions::new().capacity(1))
        .unwrap();
    for tag in 0..N {
        system
            .send_timeout(&worker, WorkerMsg::Work(tag), WAIT)
            .unwrap();
    }
    let seen = wait_for(&system, &recorder, |e| {
        handled_by(e, worker.id()).len() as u64 == N
    });
    assert_eq!(handled_by(&seen, worker.id()), (0..N).collect::<Vec<_>>());
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// A send to an actor that has stopped fails with `Stopped` and gives the message back.
pub fn send_to_stopped_actor_gives_the_message_back<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.send(&worker, WorkerMsg::Stop(1)).unwrap();
    sync(&system, &worker, 2);
    let err = system.send(&worker, WorkerMsg::Work(3)).unwrap_err();
    assert_eq!(err.reason(), &SendFailure::Stopped);
    assert!(matches!(err.into_message(), WorkerMsg::Work(3)));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// An id the system never gave out, and a message type the actor does not take, are typed
/// errors that give the message back.
pub fn unknown_actor_and_wrong_type_are_errors<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    let nobody = Addr::<WorkerMsg>::from_id(ActorId::new(u64::MAX / 2));
    let err = system.send(&nobody, WorkerMsg::Work(1)).unwrap_err();
    assert_eq!(err.reason(), &SendFailure::UnknownActor);
    assert!(matches!(err.into_message(), WorkerMsg::Work(1)));
    let wrong = Addr::<u64>::from_id(worker.id());
    let err = system.send(&wrong, 7u64).unwrap_err();
    assert!(
        matches!(err.reason(), SendFailure::WrongType { .. }),
        "{err}"
    );
    assert_eq!(err.into_message(), 7);
    // The actor is unharmed.
    assert_eq!(system.ask(&worker, |r| WorkerMsg::Echo(5, r), WAIT), Ok(5));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// A mailbox capacity of zero is refused at spawn.
pub fn invalid_capacity_is_refused<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let result = system.spawn_with(Worker::new(recorder), SpawnOptions::new().capacity(0));
    assert!(
        matches!(result, Err(SpawnError::InvalidOptions(_))),
        "{result:?}"
    );
    system.shutdown(ShutdownMode::Drain, WAIT);
}

/// A message sent after a delay arrives no earlier than the delay, on the backend's clock.
pub fn timer_fires_after_its_delay<B: Backend>(make: &impl Fn(u64) -> B) {
    let delay = Duration::from_millis(30);
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system
        .send(&worker, WorkerMsg::Schedule { tag: 1, delay })
        .unwrap();
    let seen = wait_for(&system, &recorder, |e| {
        e.iter().any(|e| matches!(e, Event::TimerFired { .. }))
    });
    let Some(Event::TimerFired {
        tag,
        set_at,
        fired_at,
        ..
    }) = seen.iter().find(|e| matches!(e, Event::TimerFired { .. }))
    else {
        unreachable!()
    };
    assert_eq!(*tag, 1);
    assert!(
        fired_at.saturating_sub(*set_at) >= delay,
        "fired after {:?}",
        fired_at.saturating_sub(*set_at)
    );
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}
