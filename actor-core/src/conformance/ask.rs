//! Rule 5: request-reply. A reply, or a typed error (timeout, receiver gone, receiver failed);
//! late replies dropped and counted; inside a handler the outcome arrives as a message.

use std::time::Duration;

use super::actors::{Event, Worker, WorkerMsg};
use super::delivery::{setup, sync};
use super::{WAIT, wait_for};
use crate::{ActorRef, AskError, Backend, Failure, SendFailure, ShutdownMode};

const SHORT: Duration = Duration::from_millis(50);

/// `ask` from outside returns the receiver's reply.
pub fn ask_returns_the_reply<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    assert_eq!(
        system.ask(&worker, |r| WorkerMsg::Echo(42, r), WAIT),
        Ok(42)
    );
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// An `ask` nobody answers in time fails with `Timeout`; the reply that comes later is dropped
/// and counted as a late reply, never delivered to a later ask.
pub fn ask_times_out_and_late_reply_is_counted<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    assert_eq!(
        system.ask(&worker, |r| WorkerMsg::Hold(1, r), SHORT),
        Err(AskError::Timeout(SHORT))
    );
    system.send(&worker, WorkerMsg::Release(7)).unwrap();
    // A later ask gets its own reply, not the late one.
    assert_eq!(system.ask(&worker, |r| WorkerMsg::Echo(8, r), WAIT), Ok(8));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.late_replies, 1);
    assert!(report.is_balanced());
}

/// An `ask` to an actor that has stopped is rejected at once.
pub fn ask_to_a_stopped_actor_is_rejected<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.send(&worker, WorkerMsg::Stop(1)).unwrap();
    sync(&system, &worker, 2);
    assert_eq!(
        system.ask(&worker, |r| WorkerMsg::Echo(3, r), WAIT),
        Err(AskError::Rejected(SendFailure::Stopped))
    );
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// An `ask` accepted but still queued when its receiver stops fails with `ReceiverStopped`
/// (or, if the stop won the race with the send, is rejected), never with a timeout.
pub fn ask_queued_behind_a_stop_reports_receiver_stopped<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    system.send(&worker, WorkerMsg::Stop(1)).unwrap();
    let outcome = system.ask(&worker, |r| WorkerMsg::Echo(2, r), WAIT);
    assert!(
        matches!(
            outcome,
            Err(AskError::ReceiverStopped | AskError::Rejected(SendFailure::Stopped))
        ),
        "{outcome:?}"
    );
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// An `ask` whose receiver fails while handling it reports the failure.
pub fn ask_whose_receiver_panics_reports_the_failure<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    let outcome = system.ask(&worker, WorkerMsg::PanicOnAsk, WAIT);
    assert_eq!(
        outcome,
        Err(AskError::ReceiverFailed(Failure::Panic(
            "told to panic while asked".into()
        )))
    );
    // It was restarted and answers again.
    assert_eq!(system.ask(&worker, |r| WorkerMsg::Echo(1, r), WAIT), Ok(1));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// Inside a handler, `ask` does not block: the reply arrives later as a message.
pub fn ask_from_a_handler_arrives_as_a_message<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let asker = system.spawn(Worker::new(recorder)).unwrap();
    let answerer = system.spawn(Worker::new(recorder)).unwrap();
    let ask = WorkerMsg::AskOther {
        tag: 1,
        to: answerer,
        value: 9,
        hold: false,
        timeout: WAIT,
    };
    system.send(&asker, ask).unwrap();
    let expected = Event::AskOutcome {
        actor: asker.id(),
        outcome: Ok(9),
    };
    wait_for(&system, &recorder, |e| e.contains(&expected));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// Inside a handler, an `ask` that gets no reply in time produces a `Timeout` message; the
/// reply that comes after is counted as late.
pub fn ask_from_a_handler_times_out_as_a_message<B: Backend>(make: &impl Fn(u64) -> B) {
    let (_seed, system, recorder) = setup(make);
    let asker = system.spawn(Worker::new(recorder)).unwrap();
    let answerer = system.spawn(Worker::new(recorder)).unwrap();
    let ask = WorkerMsg::AskOther {
        tag: 1,
        to: answerer,
        value: 9,
        hold: true,
        timeout: SHORT,
    };
    system.send(&asker, ask).unwrap();
    let expected = Event::AskOutcome {
        actor: asker.id(),
        outcome: Err(AskError::Timeout(SHORT)),
    };
    wait_for(&system, &recorder, |e| e.contains(&expected));
    system.send(&answerer, WorkerMsg::Release(10)).unwrap();
    sync(&system, &answerer, 11);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.late_replies, 1);
    assert!(report.is_balanced());
}
