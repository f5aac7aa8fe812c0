//! Rules 1, 2, 4 and 8: per-pair FIFO, queued messages kept across restarts, at most once,
//! bounded mailboxes that give the message back, and bad addresses as typed errors.

use std::time::Duration;

use super::actors::{Event, Recorder, RecorderMsg, Refusal, Worker, WorkerMsg};
use super::{WAIT, events, wait_for};
use crate::seed::{TestSeed, test_seed};
use crate::{
    ActorId, ActorRef, Addr, AskError, Backend, DeadLetterReason, ExitReason, Failure, SendFailure,
    ShutdownMode, Signal, SpawnError, SpawnOptions,
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

/// The [`Event::Sent`] records of `actor`, in order: whether they were timers, the tags
/// accepted, the refusals.
pub(crate) fn sent_by(events: &[Event], actor: ActorId) -> Vec<(bool, Vec<u64>, Vec<Refusal>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Sent {
                actor: a,
                timers,
                accepted,
                refused,
            } if *a == actor => Some((*timers, accepted.clone(), refused.clone())),
            _ => None,
        })
        .collect()
}

/// Spawns a worker, stops it, and has `watcher` watch it until the watcher has had its
/// `Terminated`: from then on the watcher knows it as stopped.
pub(crate) fn stopped_and_seen_by<B: Backend>(
    system: &B,
    recorder: &Addr<RecorderMsg>,
    watcher: &Addr<WorkerMsg>,
) -> Addr<WorkerMsg> {
    let target = system.spawn(Worker::new(*recorder)).unwrap();
    system.send(&target, WorkerMsg::Stop(0)).unwrap();
    system
        .send(watcher, WorkerMsg::Watch(0, target.id()))
        .unwrap();
    let terminated = Event::Signal {
        actor: watcher.id(),
        signal: Signal::Terminated {
            id: target.id(),
            reason: ExitReason::Stopped,
        },
    };
    wait_for(system, recorder, |e| e.contains(&terminated));
    target
}

/// Ids no system of the suite gives out: a small one and a large one (a backend that packs
/// more than a number into an id may read them differently).
fn nobody() -> [Addr<WorkerMsg>; 2] {
    [1 << 40, u64::MAX / 2].map(|n| Addr::from_id(ActorId::new(n)))
}

/// The receivers of the dead letters of reason `Undeliverable` in `report`.
fn undeliverable(report: &crate::ShutdownReport) -> Vec<ActorId> {
    report
        .dead_letters
        .iter()
        .filter(|d| d.reason == DeadLetterReason::Undeliverable)
        .map(|d| d.to)
        .collect()
}

/// Has `sender` send one `Work(tag)` to each of `targets` (as a timer after `delay` if given),
/// and returns what each of those sends returned, in order.
fn probe_each<B: Backend>(
    system: &B,
    recorder: &Addr<RecorderMsg>,
    sender: &Addr<WorkerMsg>,
    targets: &[(u64, Addr<WorkerMsg>)],
    delay: Option<Duration>,
) -> Vec<(Vec<u64>, Vec<Refusal>)> {
    for (k, (tag, to)) in targets.iter().enumerate() {
        let probe = WorkerMsg::Probe {
            tag: 1_000 + k as u64,
            to: *to,
            first: *tag,
            count: 1,
            delay,
        };
        system.send(sender, probe).unwrap();
    }
    let seen = wait_for(system, recorder, |e| {
        sent_by(e, sender.id()).len() == targets.len()
    });
    sent_by(&seen, sender.id())
        .into_iter()
        .map(|(timers, accepted, refused)| {
            assert_eq!(timers, delay.is_some());
            (accepted, refused)
        })
        .collect()
}

/// Checks that each probe's one send was refused for the reason expected of it (a
/// `WrongType` matches any expected type name) and gave its message back; `expected` has one
/// `(tag, reason, what the receiver is)` per probe. A failure lists every probe that went
/// otherwise.
fn assert_refused(outcomes: &[(Vec<u64>, Vec<Refusal>)], expected: &[(u64, SendFailure, &str)]) {
    assert_eq!(outcomes.len(), expected.len());
    let mut wrong = Vec::new();
    for ((accepted, refused), (tag, expected_reason, what)) in outcomes.iter().zip(expected) {
        let reason = match expected_reason {
            SendFailure::WrongType { .. } => "WrongType".to_string(),
            other => format!("{other:?}"),
        };
        let same_reason = |r: &SendFailure| match (expected_reason, r) {
            (SendFailure::WrongType { .. }, SendFailure::WrongType { .. }) => true,
            (expected, r) => expected == r,
        };
        match refused.as_slice() {
            [] if !accepted.is_empty() => wrong.push(format!(
                "a send to {what} returned Ok (it must be refused with `{reason}`)"
            )),
            [refusal] if !same_reason(&refusal.reason) => wrong.push(format!(
                "a send to {what} was refused with `{:?}`, not `{reason}`",
                refusal.reason
            )),
            [refusal] if refusal.returned != Some(*tag) => wrong.push(format!(
                "a send to {what} gave back {:?}, not its message (Work({tag}))",
                refusal.returned
            )),
            [_] => {}
            other => wrong.push(format!("a send to {what}: {accepted:?}, {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("; "));
}

/// A timer is checked when it is scheduled, like a send (rule 8): from inside a handler,
/// `send_after` to an id the system never gave out, to an actor the sender has seen stop, or
/// to an actor of another message type, returns `Err` at the call with `UnknownActor`,
/// `Stopped` or `WrongType`, and gives the message back.
pub fn a_timer_is_refused_at_the_call_like_a_send<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let sender = system.spawn(Worker::new(recorder)).unwrap();
    let stopped = stopped_and_seen_by(&system, &recorder, &sender);
    let other_type = Addr::<WorkerMsg>::from_id(recorder.id());
    let [small, large] = nobody();
    let targets = [(1, small), (2, large), (3, stopped), (4, other_type)];
    let outcomes = probe_each(
        &system,
        &recorder,
        &sender,
        &targets,
        Some(Duration::from_millis(10)),
    );
    let unknown = SendFailure::UnknownActor;
    let wrong = SendFailure::WrongType {
        expected: String::new(),
    };
    assert_refused(
        &outcomes,
        &[
            (1, unknown.clone(), "an unknown id (1 << 40)"),
            (2, unknown, "an unknown id (u64::MAX / 2)"),
            (3, SendFailure::Stopped, "a stopped actor"),
            (4, wrong, "an actor of another type"),
        ],
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
}

/// A timer is accepted when it is scheduled, whatever the receiver's queue holds then, and
/// delivered when due even past the bound: a `send_after` to a bounded mailbox that is full
/// at the call (and still full when the timer is due, its actor busy) returns `Ok`, and the
/// timer is handled.
pub fn a_timer_to_a_full_mailbox_is_accepted_and_delivered<B: Backend>(make: &impl Fn(u64) -> B) {
    const TIMER: u64 = 1_000;
    let delay = Duration::from_millis(10);
    let (_seed, system, recorder) = setup(make);
    let receiver = system
        .spawn_with(Worker::new(recorder), SpawnOptions::new().capacity(1))
        .unwrap();
    let sender = system.spawn(Worker::new(recorder)).unwrap();
    // Busy for much longer than the delay: the timer comes due with the mailbox still full.
    let busy = WorkerMsg::Sleep {
        tag: 0,
        duration: Duration::from_millis(300),
        fail: false,
    };
    system.send(&receiver, busy).unwrap();
    let fill = WorkerMsg::FillThenTimer {
        tag: 1,
        to: receiver,
        first: 100,
        limit: 100,
        timer: TIMER,
        delay,
    };
    system.send(&sender, fill).unwrap();
    let seen = wait_for(&system, &recorder, |e| sent_by(e, sender.id()).len() == 2);
    let sent = sent_by(&seen, sender.id());
    let (_, filled, fill_refused) = &sent[0];
    let (_, timer_accepted, timer_refused) = &sent[1];
    assert!(
        timer_refused.is_empty(),
        "the timer was refused at the call: {timer_refused:?}"
    );
    assert_eq!(timer_accepted, &[TIMER]);
    // Past its due time (the backend's clock: virtual on inline), then drain what is queued.
    system.sleep(delay + Duration::from_millis(50));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let dead: Vec<_> = report
        .dead_letters
        .iter()
        .filter(|d| d.to == receiver.id())
        .collect();
    let timer_dead = dead
        .iter()
        .find(|d| matches!(d.message_as::<WorkerMsg>(), Some(WorkerMsg::Work(TIMER))));
    assert!(
        timer_dead.is_none(),
        "the timer is a dead letter ({:?}), not delivered",
        timer_dead.map(|d| d.reason)
    );
    let reasons: std::collections::BTreeSet<_> =
        dead.iter().map(|d| format!("{:?}", d.reason)).collect();
    assert!(
        dead.is_empty(),
        "{} dead letters to the receiver, of reasons {reasons:?}",
        dead.len()
    );
    let ledger = report.actor(receiver.id()).unwrap().ledger;
    // The busy message, the sends accepted before the mailbox was full, and the timer.
    let expected = 1 + filled.len() as u64 + 1;
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (expected, expected, 0),
        "the receiver's ledger"
    );
    assert!(
        matches!(
            fill_refused.as_slice(),
            [Refusal {
                reason: SendFailure::Full { capacity: 1 },
                ..
            }]
        ),
        "the mailbox was full at the timer's call: {fill_refused:?}"
    );
    assert!(report.is_balanced(), "{report:#?}");
}

/// A timer whose receiver stops before it fires is a dead letter on the receiver's ledger:
/// accepted (counted from when it was scheduled) and dead-lettered, never lost, the ledger
/// balanced; the dead letter holds the message.
pub fn a_timer_whose_receiver_stops_first_is_a_dead_letter_on_its_ledger<B: Backend>(
    make: &impl Fn(u64) -> B,
) {
    const TIMER: u64 = 100;
    let delay = Duration::from_millis(500);
    let (_seed, system, recorder) = setup(make);
    let sender = system.spawn(Worker::new(recorder)).unwrap();
    let receiver = system.spawn(Worker::new(recorder)).unwrap();
    let outcomes = probe_each(
        &system,
        &recorder,
        &sender,
        &[(TIMER, receiver)],
        Some(delay),
    );
    assert_eq!(outcomes[0], (vec![TIMER], vec![]), "the timer is accepted");
    // It stops long before the timer is due.
    system.send(&receiver, WorkerMsg::Stop(1)).unwrap();
    system
        .send(&sender, WorkerMsg::Watch(2, receiver.id()))
        .unwrap();
    let terminated = Event::Signal {
        actor: sender.id(),
        signal: Signal::Terminated {
            id: receiver.id(),
            reason: ExitReason::Stopped,
        },
    };
    wait_for(&system, &recorder, |e| e.contains(&terminated));
    // Past the timer's due time, on the backend's clock (virtual on inline).
    system.sleep(delay + Duration::from_millis(100));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let ledger = report.actor(receiver.id()).unwrap().ledger;
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (2, 1, 1),
        "the receiver's ledger: its stop handled, the timer accepted and dead"
    );
    let dead: Vec<_> = report
        .dead_letters
        .iter()
        .filter(|d| d.to == receiver.id())
        .collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        dead[0].reason,
        DeadLetterReason::ReceiverGone,
        "the timer was due after its receiver had gone"
    );
    assert!(
        matches!(
            dead[0].message_as::<WorkerMsg>(),
            Some(WorkerMsg::Work(TIMER))
        ),
        "the dead letter holds the timer's message"
    );
    assert!(report.is_balanced(), "{report:#?}");
}

/// From inside a handler, a send to an actor the sender has seen stop (its `Terminated` has
/// arrived) fails at the call with `Stopped` and gives the message back, as
/// [`Context::send`](crate::Context::send) promises: on every backend the same outcome, and
/// no dead letter made of it later.
pub fn a_handler_send_to_a_stopped_receiver_gives_the_message_back<B: Backend>(
    make: &impl Fn(u64) -> B,
) {
    let (_seed, system, recorder) = setup(make);
    let sender = system.spawn(Worker::new(recorder)).unwrap();
    let stopped = stopped_and_seen_by(&system, &recorder, &sender);
    let outcomes = probe_each(&system, &recorder, &sender, &[(1, stopped)], None);
    assert_refused(&outcomes, &[(1, SendFailure::Stopped, "a stopped actor")]);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(undeliverable(&report), [], "{report:#?}");
    let ledger = report.actor(stopped.id()).unwrap().ledger;
    assert_eq!((ledger.accepted, ledger.handled), (1, 1), "only its stop");
    assert!(report.is_balanced(), "{report:#?}");
}

/// From inside a handler, a send to an id the system never gave out fails at the call with
/// `UnknownActor`, and one to an actor that takes another message type with `WrongType`;
/// each gives the message back, on every backend.
pub fn a_handler_send_to_an_unknown_receiver_gives_the_message_back<B: Backend>(
    make: &impl Fn(u64) -> B,
) {
    let (_seed, system, recorder) = setup(make);
    let sender = system.spawn(Worker::new(recorder)).unwrap();
    let other_type = Addr::<WorkerMsg>::from_id(recorder.id());
    let [small, large] = nobody();
    let targets = [(1, small), (2, large), (3, other_type)];
    let outcomes = probe_each(&system, &recorder, &sender, &targets, None);
    let unknown = SendFailure::UnknownActor;
    let wrong = SendFailure::WrongType {
        expected: String::new(),
    };
    assert_refused(
        &outcomes,
        &[
            (1, unknown.clone(), "an unknown id (1 << 40)"),
            (2, unknown, "an unknown id (u64::MAX / 2)"),
            (3, wrong, "an actor of another type"),
        ],
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(undeliverable(&report), [], "{report:#?}");
    assert!(report.is_balanced(), "{report:#?}");
}

/// From inside a handler, sends to a full bounded mailbox fail at the call with `Full` and
/// give the message back: of 1,000 sends in one handler to a receiver of capacity 1, at least
/// one is refused, every one accepted is handled (in order), and none becomes a dead letter
/// later (`Undeliverable`).
pub fn a_handler_send_to_a_full_receiver_gives_the_message_back<B: Backend>(
    make: &impl Fn(u64) -> B,
) {
    const N: u64 = 1_000;
    let (_seed, system, recorder) = setup(make);
    let receiver = system
        .spawn_with(Worker::new(recorder), SpawnOptions::new().capacity(1))
        .unwrap();
    let sender = system.spawn(Worker::new(recorder)).unwrap();
    let probe = WorkerMsg::Probe {
        tag: 0,
        to: receiver,
        first: 1,
        count: N,
        delay: None,
    };
    system.send(&sender, probe).unwrap();
    let seen = wait_for(&system, &recorder, |e| !sent_by(e, sender.id()).is_empty());
    let (_, accepted, refused) = sent_by(&seen, sender.id()).remove(0);
    assert!(
        !refused.is_empty(),
        "all {N} sends to a mailbox of capacity 1 returned Ok"
    );
    assert_eq!(accepted.len() + refused.len(), N as usize);
    for refusal in &refused {
        assert_eq!(refusal.reason, SendFailure::Full { capacity: 1 });
        assert_eq!(refusal.returned, Some(refusal.tag), "the same message back");
    }
    let seen = wait_for(&system, &recorder, |e| {
        handled_by(e, receiver.id()).len() >= accepted.len()
    });
    assert_eq!(handled_by(&seen, receiver.id()), accepted);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(undeliverable(&report), [], "{report:#?}");
    let ledger = report.actor(receiver.id()).unwrap().ledger;
    let accepted = accepted.len() as u64;
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (accepted, accepted, 0)
    );
    assert!(report.is_balanced(), "{report:#?}");
}

/// Rule 9: `send_timeout` measures its timeout on the backend's clock. Into a mailbox of
/// capacity 1 whose receiver is busy (a handler that sleeps 300 ms of wall time), with one
/// message queued: either the receiver makes room in time and the message is accepted (on the
/// inline backend the wait runs the receiver), or the send gives up with `Full` and its message
/// back once the backend's clock ([`Backend::now`]) has moved on by the timeout.
pub fn send_timeout_gives_up_on_the_backends_clock<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let receiver = system
        .spawn_with(Worker::new(recorder), SpawnOptions::new().capacity(1))
        .unwrap();
    let busy = WorkerMsg::Sleep {
        tag: 1,
        duration: Duration::from_millis(300),
        fail: false,
    };
    system.send(&receiver, busy).unwrap();
    // Queued behind it, or refused on a backend that has not started the receiver yet.
    let _ = system.send(&receiver, WorkerMsg::Work(2));
    let timeout = Duration::from_millis(50);
    let before = system.now();
    match system.send_timeout(&receiver, WorkerMsg::Work(3), timeout) {
        Ok(()) => {}
        Err(err) => {
            assert!(
                matches!(err.reason(), SendFailure::Full { capacity: 1 }),
                "refused for {}",
                err.reason()
            );
            assert!(matches!(err.into_message(), WorkerMsg::Work(3)));
            let waited = system.now() - before;
            assert!(
                waited >= timeout,
                "gave up after {waited:?} on the backend's clock, before its {timeout:?}"
            );
        }
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report}");
}
