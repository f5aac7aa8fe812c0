//! Every workload gives the right answer on every backend compiled in, and a wrong answer is an
//! error.

use std::time::Duration;

use actor_core::{Backend, ShutdownMode};
use backend_inline::InlineSystem;
use bench_suite::workloads::{self, WorkloadError, check, seed};

fn system() -> InlineSystem {
    InlineSystem::with_seed(actor_core::seed::test_seed().get())
}

fn balanced(system: InlineSystem) {
    let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(1));
    assert!(report.is_balanced(), "{report:#?}");
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
}

#[test]
fn seed_program_collects_every_finished_reply() {
    let system = system();
    let outcome = seed::run_actors(&system, 1_000_003, 5).unwrap();
    assert_eq!(
        outcome,
        seed::SeedOutcome {
            finished: 5,
            counted: 1_000_003
        }
    );
    balanced(system);
}

#[test]
fn seed_shares_add_up() {
    for (n, parts) in [(10, 3), (0, 5), (4, 5), (1_000_000_007, 5)] {
        let shares: Vec<u64> = (0..parts).map(|i| seed::split(n, parts, i)).collect();
        assert_eq!(shares.iter().sum::<u64>(), n);
        assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1);
    }
}

#[test]
fn seed_threads_count_everything() {
    assert_eq!(seed::run_threads(123_457, 5).unwrap(), 123_457);
}

#[test]
fn ping_pong_plays_every_round() {
    let system = system();
    assert_eq!(workloads::ping_pong::run(&system, 1000).unwrap(), 1000);
    assert_eq!(workloads::ping_pong::run(&system, 0).unwrap(), 0);
    balanced(system);
}

#[test]
fn fan_in_receives_everything_sent() {
    let system = system();
    assert_eq!(workloads::fan_in::run(&system, 4, 2500).unwrap(), 10_000);
    assert_eq!(workloads::fan_in::run(&system, 1, 100).unwrap(), 100);
    assert_eq!(
        workloads::fan_in::run_from_outside(&system, 100).unwrap(),
        100
    );
    balanced(system);
}

#[test]
fn spawn_stop_sees_every_termination() {
    let system = system();
    assert_eq!(workloads::spawn_stop::run(&system, 1000).unwrap(), 1000);
    let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(1));
    assert_eq!(report.actors.len(), 1001);
    assert!(report.is_balanced());
}

#[test]
fn thread_ring_makes_every_hop() {
    let system = system();
    assert_eq!(
        workloads::thread_ring::run(&system, 50, 10_000).unwrap(),
        10_000
    );
    balanced(system);
}

#[test]
fn fork_join_handles_every_job() {
    let system = system();
    assert_eq!(workloads::fork_join::run(&system, 8, 500).unwrap(), 4000);
    balanced(system);
}

#[test]
fn a_wrong_result_is_an_error() {
    let err = check(5u64, 4u64).unwrap_err();
    assert!(
        matches!(&err, WorkloadError::WrongResult { expected, got } if expected == "5" && got == "4")
    );
    assert_eq!(err.to_string(), "wrong result: expected 5, got 4");
}

/// Every workload on one system, at sizes divided by `scale`, then a clean shutdown: the same
/// code for every backend.
fn every_workload<B: actor_core::Backend>(system: B, scale: u64) {
    let outcome = seed::run_actors(&system, 1_000_003, 5).unwrap();
    assert_eq!(
        outcome,
        seed::SeedOutcome {
            finished: 5,
            counted: 1_000_003
        }
    );
    assert_eq!(
        workloads::ping_pong::run(&system, 1000 / scale).unwrap(),
        1000 / scale
    );
    assert_eq!(
        workloads::fan_in::run(&system, 4, 2500 / scale).unwrap(),
        10_000 / scale
    );
    assert_eq!(
        workloads::fan_in::run_from_outside(&system, 2500 / scale).unwrap(),
        2500 / scale
    );
    assert_eq!(
        workloads::spawn_stop::run(&system, 1000 / scale).unwrap(),
        1000 / scale
    );
    assert_eq!(
        workloads::thread_ring::run(&system, 50, 10_000 / scale).unwrap(),
        10_000 / scale
    );
    assert_eq!(
        workloads::fork_join::run(&system, 8, 500 / scale).unwrap(),
        4000 / scale
    );
    let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(10));
    assert!(report.is_balanced(), "{report:#?}");
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
}

/// The same workloads on the thread backend (the seed's counters on dedicated threads).
#[cfg(feature = "thread")]
#[test]
fn every_workload_on_threads() {
    every_workload(backend_thread::ThreadSystem::new().unwrap(), 1);
}

/// The same workloads with every actor in a process of its own (smaller: a process message
/// costs tens of microseconds, a spawn a millisecond).
#[cfg(feature = "process")]
#[test]
fn every_workload_in_processes() {
    every_workload(backend_process::ProcessSystem::new().unwrap(), 50);
}

#[cfg(feature = "process")]
backend_process::process_test_support!();
