//! Delivery properties over random workloads: conservation of messages, at most once and
//! per-pair FIFO under random crashes, stops and restarts.

use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::actors::{Event, Recorder, Worker, WorkerMsg};
use super::delivery::handled_by;
use super::{DEFAULT_CASES, WAIT, events};
use crate::{
    ActorRef, AskError, Backend, ExitReason, RestartLimit, SendFailure, ShutdownMode, SpawnOptions,
    Supervision,
};

/// One step of a random workload, aimed at worker `.0` (modulo the number of workers).
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A message that is handled.
    Work(usize),
    /// A message whose handler returns an error.
    Fail(usize),
    /// A message whose handler panics.
    Panic(usize),
    /// A message that stops the worker.
    Stop(usize),
    /// An `ask` from outside.
    Echo(usize),
}

/// A random workload: the workers' supervision and what is sent to them.
#[derive(Clone, Debug)]
pub struct Workload {
    /// One entry per worker.
    pub workers: Vec<Supervision>,
    /// What is sent, in order.
    pub ops: Vec<Op>,
}

fn supervision() -> impl Strategy<Value = Supervision> {
    prop_oneof![
        1 => Just(Supervision::Stop),
        3 => (0u32..4).prop_map(|n| Supervision::Restart(RestartLimit::new(n, Duration::from_secs(60)))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let target = 0usize..4;
    prop_oneof![
        6 => target.clone().prop_map(Op::Work),
        1 => target.clone().prop_map(Op::Fail),
        1 => target.clone().prop_map(Op::Panic),
        1 => target.clone().prop_map(Op::Stop),
        1 => target.prop_map(Op::Echo),
    ]
}

/// Workloads of 1 to 4 workers and up to 60 operations.
pub fn workload() -> impl Strategy<Value = Workload> {
    (
        prop::collection::vec(supervision(), 1..=4),
        prop::collection::vec(op(), 0..60),
    )
        .prop_map(|(workers, ops)| Workload { workers, ops })
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    // No regression files: they would be written beside this library's sources. A failure
    // prints its minimal workload and seed instead.
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn run<T: std::fmt::Debug>(
    strategy: impl Strategy<Value = T>,
    test: impl Fn(T) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(config());
    if let Err(failure) = runner.run(&strategy, test) {
        panic!(
            "{failure}\n(the failing input above includes the seed; pass it to the backend to replay the run)"
        );
    }
}

/// Under random crashes, stops, restarts and asks, every accepted message is handled exactly
/// once or dead-lettered exactly once, per actor; each sender's messages are handled in order;
/// messages queued across a restart are not lost.
pub fn conservation_under_random_crashes_stops_and_restarts<B: Backend>(make: &impl Fn(u64) -> B) {
    run((any::<u64>(), workload()), |(seed, workload)| {
        check_conservation(make(seed), &workload)
    });
}

/// Checks one workload on one system.
///
/// # Errors
/// The first property that does not hold.
pub fn check_conservation<B: Backend>(system: B, workload: &Workload) -> Result<(), TestCaseError> {
    let recorder = system
        .spawn(Recorder::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let workers: Vec<_> = workload
        .workers
        .iter()
        .map(|s| {
            system
                .spawn_with(Worker::new(recorder), SpawnOptions::new().supervision(*s))
                .unwrap()
        })
        .collect();
    let n = workers.len();
    let mut accepted = vec![0u64; n];
    let mut crashes = vec![0u64; n];
    let mut sent_tags: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); n];
    let mut tag = 0u64;
    let mut ops: Vec<Op> = workload.ops.clone();
    // Finish with one ask per worker, so everything sent before has been handled.
    ops.extend((0..n).map(Op::Echo));
    for op in ops {
        tag += 1;
        let (i, msg) = match op {
            Op::Work(i) => (i % n, WorkerMsg::Work(tag)),
            Op::Fail(i) => (i % n, WorkerMsg::Fail(tag)),
            Op::Panic(i) => (i % n, WorkerMsg::Panic(tag)),
            Op::Stop(i) => (i % n, WorkerMsg::Stop(tag)),
            Op::Echo(i) => {
                let i = i % n;
                match system.ask(&workers[i], |r| WorkerMsg::Echo(tag, r), WAIT) {
                    Ok(value) => prop_assert_eq!(value, tag),
                    Err(AskError::Rejected(SendFailure::Stopped)) => continue,
                    Err(AskError::ReceiverStopped) => {}
                    Err(other) => {
                        return Err(TestCaseError::fail(format!(
                            "ask to worker {i} failed: {other}"
                        )));
                    }
                }
                accepted[i] += 1;
                sent_tags[i].insert(tag);
                continue;
            }
        };
        let crash = matches!(msg, WorkerMsg::Fail(_) | WorkerMsg::Panic(_));
        match system.send(&workers[i], msg) {
            Ok(()) => {
                accepted[i] += 1;
                crashes[i] += u64::from(crash);
                sent_tags[i].insert(tag);
            }
            Err(err) => prop_assert_eq!(err.reason(), &SendFailure::Stopped),
        }
    }
    let seen = events(&system, &recorder);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    prop_assert!(report.is_balanced(), "unbalanced: {:#?}", report);
    let mut records = 0;
    for (i, worker) in workers.iter().enumerate() {
        let actor = report.actor(worker.id()).unwrap();
        prop_assert_eq!(actor.ledger.accepted, accepted[i], "worker {} accepted", i);
        let tags = handled_by(&seen, worker.id());
        prop_assert_eq!(
            tags.len() as u64,
            actor.ledger.handled,
            "worker {}: handled per recorder vs ledger",
            i
        );
        prop_assert!(
            tags.windows(2).all(|w| w[0] < w[1]),
            "worker {}: out of order or duplicated: {:?}",
            i,
            tags
        );
        prop_assert!(
            tags.iter().all(|t| sent_tags[i].contains(t)),
            "worker {} handled a tag never sent",
            i
        );
        let failures = report
            .failures
            .iter()
            .filter(|f| f.actor == worker.id())
            .count() as u64;
        let starts = seen
            .iter()
            .filter(|e| **e == Event::Started { actor: worker.id() })
            .count() as u64;
        records += tags.len() as u64 + starts;
        match &actor.exit {
            ExitReason::Shutdown => {
                // Alive to the end: only the crashing messages were lost (rule 3).
                prop_assert_eq!(
                    actor.ledger.dead_letters,
                    crashes[i],
                    "worker {} dead letters",
                    i
                );
                prop_assert_eq!(failures, u64::from(actor.restarts));
                prop_assert_eq!(starts, u64::from(actor.restarts) + 1);
            }
            ExitReason::Failed(_) => {
                prop_assert_eq!(failures, u64::from(actor.restarts) + 1);
                prop_assert!(report.escalations.iter().any(|e| e.actor == worker.id()));
            }
            ExitReason::Stopped => prop_assert_eq!(failures, u64::from(actor.restarts)),
            other => {
                return Err(TestCaseError::fail(format!(
                    "worker {i} exited with {other:?}"
                )));
            }
        }
    }
    let recorder_ledger = report.actor(recorder.id()).unwrap().ledger;
    // Every successful handling sent one event: none lost, none doubled.
    prop_assert_eq!(recorder_ledger.accepted, records + 1);
    Ok(())
}

/// Up to four actors and the test each send a random number of messages to one receiver; each
/// sender's messages arrive in order and none is lost or doubled.
pub fn fifo_per_pair_under_random_senders<B: Backend>(make: &impl Fn(u64) -> B) {
    let strategy = (
        any::<u64>(),
        prop::collection::vec(0u64..80, 1..=4),
        0u64..80,
    );
    run(strategy, |(seed, bursts, direct)| {
        let system = make(seed);
        let recorder = system.spawn(Recorder::default()).unwrap();
        let receiver = system.spawn(Worker::new(recorder)).unwrap();
        for (k, count) in bursts.iter().enumerate() {
            let sender = system.spawn(Worker::new(recorder)).unwrap();
            let first = (k as u64 + 1) * 1_000_000;
            system
                .send(
                    &sender,
                    WorkerMsg::Burst {
                        tag: 0,
                        to: receiver,
                        first,
                        count: *count,
                    },
                )
                .unwrap();
        }
        for n in 0..direct {
            system.send(&receiver, WorkerMsg::Work(n)).unwrap();
        }
        let total = bursts.iter().sum::<u64>() + direct;
        let seen = super::wait_for(&system, &recorder, |e| {
            handled_by(e, receiver.id()).len() as u64 == total
        });
        let tags = handled_by(&seen, receiver.id());
        let counts = std::iter::once(direct).chain(bursts.iter().copied());
        for (sender, count) in counts.enumerate() {
            let sender = sender as u64;
            let got: Vec<u64> = tags
                .iter()
                .copied()
                .filter(|t| t / 1_000_000 == sender)
                .collect();
            prop_assert_eq!(
                got,
                (0..count)
                    .map(|n| sender * 1_000_000 + n)
                    .collect::<Vec<_>>()
            );
        }
        prop_assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
        Ok(())
    });
}
