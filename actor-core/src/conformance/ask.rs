//! Rule 5: request-reply. A reply, or a typed error (timeout, receiver gone, receiver failed);
//! late replies dropped and counted; inside a handler the outcome arrives as a message.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::actors::{Event, RecorderMsg, Worker, WorkerMsg};
use super::delivery::{setup, sync};
use super::{WAIT, wait_for, wait_for_within};
use crate::{
    Actor, ActorError, ActorRef, Addr, AskError, Backend, Context, Failure, SendFailure,
    ShutdownMode,
};

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

/// Asks this many from inside a handler, a window at a time.
const MANY_ASKS: u64 = 1_000_000;
/// The most asks outstanding at once.
const ASK_WINDOW: u64 = 10_000;
/// The bound on the growth of resident memory over the second half of the asks.
const ASK_MEMORY_BOUND: u64 = 16 << 20;

/// Asks `to` to echo, from inside its handler, `ASK_WINDOW` at a time: the next window goes
/// out when every reply of the last has come. Records [`Event::AsksCompleted`] when it has
/// had every outcome asked for so far.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ManyAsks {
    recorder: Addr<RecorderMsg>,
    to: Addr<WorkerMsg>,
    /// Asks still to make.
    remaining: u64,
    /// Asks made whose outcome has not come.
    outstanding: u64,
    completed: u64,
    failed: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum ManyAsksMsg {
    /// Make this many more asks.
    Run(u64),
    /// An ask's outcome.
    Outcome(Result<u64, AskError>),
}

impl ManyAsks {
    fn next_window<C: Context<Self>>(&mut self, ctx: &mut C) -> Result<(), ActorError> {
        let window = self.remaining.min(ASK_WINDOW);
        for n in 0..window {
            ctx.ask(
                &self.to,
                |r| WorkerMsg::Echo(n, r),
                Duration::from_secs(3600),
                ManyAsksMsg::Outcome,
            )
            .map_err(|e| ActorError::new(e.to_string()))?;
        }
        self.remaining -= window;
        self.outstanding = window;
        if window == 0 {
            let done = Event::AsksCompleted {
                actor: ctx.myself().id(),
                completed: self.completed,
                failed: self.failed,
            };
            ctx.send(&self.recorder, RecorderMsg::Event(done))
                .map_err(|e| ActorError::new(e.to_string()))?;
        }
        Ok(())
    }
}

impl Actor for ManyAsks {
    type Msg = ManyAsksMsg;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        msg: ManyAsksMsg,
    ) -> Result<(), ActorError> {
        match msg {
            ManyAsksMsg::Run(asks) => {
                self.remaining += asks;
                if self.outstanding == 0 {
                    self.next_window(ctx)?;
                }
            }
            ManyAsksMsg::Outcome(outcome) => {
                self.outstanding -= 1;
                self.completed += 1;
                if outcome.is_err() {
                    self.failed += 1;
                }
                if self.outstanding == 0 {
                    self.next_window(ctx)?;
                }
            }
        }
        Ok(())
    }
}

/// The resident memory of this process in bytes (`VmRSS` in `/proc/self/status`), on Linux.
fn resident_bytes() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// An ask that has ended leaves nothing behind, its timeout timer included: 1,000,000 asks
/// from inside a handler, each with a one-hour timeout and answered at once, at most 10,000
/// outstanding, grow the resident memory of the test process by less than 16 MiB over the
/// second half of them. A timer kept until it expires costs some 60-100 bytes, so the 500,000
/// of that half would be 30-50 MB. The first half is left out of the measure: it is where the
/// queues and the allocator reach their high-water mark, which depends on how the machine
/// schedules the actors (from 10,000 asks on, that alone measured 9-20 MB), and that memory
/// is kept, not grown. (The memory is measured on Linux only, and is the whole test
/// process's: `run_rule` runs this rule alone. Elsewhere the asks still run and must all be
/// answered.)
pub fn completed_asks_leave_no_timer_behind<B: Backend>(make: &impl Fn(u64) -> B) {
    let limit = Duration::from_secs(300);
    let (_seed, system, recorder) = setup(make);
    // No recorder for the answerer: a million events would be memory of their own.
    let answerer = system.spawn(Worker::default()).unwrap();
    let asker = ManyAsks {
        recorder,
        to: answerer,
        remaining: 0,
        outstanding: 0,
        completed: 0,
        failed: 0,
    };
    let asker = system.spawn(asker).unwrap();
    let completed = |n: u64| {
        let expected = Event::AsksCompleted {
            actor: asker.id(),
            completed: n,
            failed: 0,
        };
        move |e: &[Event]| {
            let last = e
                .iter()
                .rev()
                .find(|e| matches!(e, Event::AsksCompleted { .. }));
            assert!(
                last.is_none_or(|l| matches!(l, Event::AsksCompleted { failed: 0, .. })),
                "an ask failed: {last:?}"
            );
            last == Some(&expected)
        }
    };
    let half = MANY_ASKS / 2;
    system.send(&asker, ManyAsksMsg::Run(half)).unwrap();
    wait_for_within(&system, &recorder, limit, completed(half));
    let before = resident_bytes();
    system
        .send(&asker, ManyAsksMsg::Run(MANY_ASKS - half))
        .unwrap();
    wait_for_within(&system, &recorder, limit, completed(MANY_ASKS));
    let after = resident_bytes();
    if let (Some(before), Some(after)) = (before, after) {
        let growth = after.saturating_sub(before);
        eprintln!(
            "resident memory {} KiB after {half} asks, {} KiB after {MANY_ASKS}",
            before >> 10,
            after >> 10
        );
        assert!(
            growth < ASK_MEMORY_BOUND,
            "resident memory grew by {} KiB over {} completed asks (from {} KiB to {} KiB)",
            growth >> 10,
            MANY_ASKS - half,
            before >> 10,
            after >> 10
        );
    }
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}
