//! Rule 10: the same seed gives the same run; different seeds give different interleavings; a
//! failing seed is printed and the environment variable replays it.

use std::process::Command;
use std::time::Duration;

use actor_core::conformance::actors::{Event, Recorder, RecorderMsg, Worker, WorkerMsg};
use actor_core::conformance::props::{Op, Workload, check_conservation, workload};
use actor_core::{Backend, ShutdownMode};
use backend_inline::{InlineConfig, InlineSystem, SEED_ENV, TraceEntry};
use proptest::prelude::*;

/// Several senders bursting to several receivers, with crashes: many interleavings possible.
fn busy_run(system: &InlineSystem) {
    let recorder = system.spawn(Recorder::default()).unwrap();
    let receivers: Vec<_> = (0..3)
        .map(|_| system.spawn(Worker::new(recorder)).unwrap())
        .collect();
    for (k, to) in receivers.iter().cycle().take(6).enumerate() {
        let sender = system.spawn(Worker::new(recorder)).unwrap();
        let first = k as u64 * 1000;
        system
            .send(
                &sender,
                WorkerMsg::Burst {
                    tag: 0,
                    to: *to,
                    first,
                    count: 20,
                },
            )
            .unwrap();
        system.send(to, WorkerMsg::Panic(first + 500)).unwrap();
    }
    system.run_until_idle();
}

fn traced(seed: u64) -> (Vec<TraceEntry>, u64) {
    let system = InlineSystem::with_config(InlineConfig::new(seed).trace(true));
    busy_run(&system);
    (system.trace(), system.fingerprint())
}

#[test]
fn same_seed_gives_identical_trace() {
    for seed in [0, 1, 42, u64::MAX] {
        let (first, fp1) = traced(seed);
        let (second, fp2) = traced(seed);
        assert!(
            first.len() > 100,
            "the workload handled {} messages",
            first.len()
        );
        assert_eq!(first, second, "seed {seed} gave two different traces");
        assert_eq!(fp1, fp2);
    }
}

#[test]
fn different_seeds_give_different_interleavings() {
    let traces: std::collections::BTreeSet<Vec<(u64, u64)>> = (0..20)
        .map(|seed| {
            traced(seed)
                .0
                .iter()
                .map(|e| (e.actor.get(), e.seq))
                .collect()
        })
        .collect();
    assert!(
        traces.len() >= 19,
        "20 seeds gave only {} distinct interleavings",
        traces.len()
    );
}

#[test]
fn fingerprint_is_kept_with_the_trace_off() {
    let system = InlineSystem::with_seed(9);
    busy_run(&system);
    assert_eq!(system.fingerprint(), traced(9).1);
    assert!(system.trace().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// For any workload and seed, two runs give the same trace and the same report; a
    /// failure shrinks to a minimal workload and prints its seed.
    #[test]
    fn any_workload_replays_identically(seed in any::<u64>(), workload in workload()) {
        let run = |w: &Workload| {
            let system = InlineSystem::with_config(InlineConfig::new(seed).trace(true));
            let recorder = system.spawn(Recorder::default()).unwrap();
            let workers: Vec<_> = w.workers.iter().map(|_| system.spawn(Worker::new(recorder)).unwrap()).collect();
            let mut outcomes = Vec::new();
            for (tag, op) in w.ops.iter().enumerate() {
                let tag = tag as u64;
                let (i, msg) = match *op {
                    Op::Work(i) => (i, WorkerMsg::Work(tag)),
                    Op::Fail(i) => (i, WorkerMsg::Fail(tag)),
                    Op::Panic(i) => (i, WorkerMsg::Panic(tag)),
                    Op::Stop(i) => (i, WorkerMsg::Stop(tag)),
                    Op::Echo(i) => {
                        let to = &workers[i % workers.len()];
                        outcomes.push(format!("{:?}", system.ask(to, |r| WorkerMsg::Echo(tag, r), Duration::from_secs(1))));
                        continue;
                    }
                };
                outcomes.push(format!("{:?}", system.send(&workers[i % workers.len()], msg).map_err(|e| e.to_string())));
            }
            let trace = system.trace();
            let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(1));
            (trace, outcomes, format!("{report:?}"))
        };
        prop_assert_eq!(run(&workload), run(&workload));
    }

    /// The conformance conservation property, with proptest choosing the scheduler's seed.
    #[test]
    fn conservation_holds_for_every_seed(seed in any::<u64>(), workload in workload()) {
        check_conservation(InlineSystem::with_seed(seed), &workload)?;
    }
}

/// Run by `seed_from_environment_replays_the_run` in a child process with the seed set.
#[test]
#[ignore = "a helper run in a child process"]
fn print_fingerprint_for_env_seed() {
    let system = InlineSystem::new();
    busy_run(&system);
    println!(
        "seed={} fingerprint={}",
        system.seed(),
        system.fingerprint()
    );
}

/// Run by `failing_test_prints_its_seed` in a child process.
#[test]
#[ignore = "a helper run in a child process"]
fn fail_with_a_test_seed() {
    let seed = backend_inline::test_seed();
    let system = InlineSystem::with_seed(seed.get());
    busy_run(&system);
    panic!("deliberate failure");
}

fn run_helper(test: &str, seed: u64) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SEED_ENV, seed.to_string())
        .output()
        .unwrap()
}

#[test]
fn seed_from_environment_replays_the_run() {
    let output = run_helper("print_fingerprint_for_env_seed", 777);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = traced(777).1;
    assert!(
        stdout.contains(&format!("seed=777 fingerprint={expected}")),
        "{stdout}"
    );
}

#[test]
fn failing_test_prints_its_seed() {
    let output = run_helper("fail_with_a_test_seed", 31337);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("replay it with {SEED_ENV}=31337")),
        "{stderr}"
    );
}

/// An actor that keeps its own mailbox (of capacity 1) full: each message it handles sends it
/// the next. It never idles, so the inline clock never moves while it runs.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct KeepsItselfFull;

impl actor_core::Actor for KeepsItselfFull {
    type Msg = u64;
    fn handle<C: actor_core::Context<Self>>(
        &mut self,
        ctx: &mut C,
        n: u64,
    ) -> Result<(), actor_core::ActorError> {
        let _ = ctx.send(&ctx.myself(), n + 1);
        Ok(())
    }
}

/// What a `send_timeout` to an actor that keeps itself full comes to, and the run it made.
fn send_timeout_to_a_full_mailbox(seed: u64) -> (bool, u64, Duration) {
    let system = InlineSystem::with_config(InlineConfig::new(seed).step_limit(10_000));
    let busy = system
        .spawn_with(KeepsItselfFull, actor_core::SpawnOptions::new().capacity(1))
        .unwrap();
    system.send(&busy, 0).unwrap();
    let full = matches!(
        system.send_timeout(&busy, 0, Duration::from_millis(200)),
        Err(ref e) if matches!(e.reason(), actor_core::SendFailure::Full { .. })
    );
    (full, system.fingerprint(), system.now())
}

/// Rule 9 and 10: `send_timeout` measures its timeout on the backend's clock, so on inline the
/// run it makes does not depend on how fast the machine is. An actor that never idles keeps the
/// virtual clock still: the wait ends when a pause could not move it (at the step limit), with
/// `Full`, after the same steps every time. (Measured on the wall clock, as it was, the wait
/// took 200 ms of real time, and the steps run meanwhile, so the fingerprint, varied.)
#[test]
fn send_timeout_waits_on_the_virtual_clock_and_its_run_is_the_same_every_time() {
    let first = send_timeout_to_a_full_mailbox(5);
    assert!(
        first.0,
        "the mailbox stayed full: the wait gives up with Full"
    );
    assert_eq!(
        first.2,
        Duration::ZERO,
        "no actor idled: the clock stood still"
    );
    for _ in 0..3 {
        assert_eq!(send_timeout_to_a_full_mailbox(5), first);
    }
}

/// Rule 9: the inline clock costs no wall time. A day-long timer fires when a day-long sleep
/// reaches it, at once: the run is watched from another thread for a minute, far less than the
/// day a real wait would take, and the times it saw are virtual to the nanosecond.
#[test]
fn a_day_of_virtual_time_passes_without_waiting() {
    const DAY: Duration = Duration::from_secs(24 * 3600);
    let (done, finished) = std::sync::mpsc::channel();
    let run = std::thread::spawn(move || {
        let system = InlineSystem::with_seed(3);
        let recorder = system.spawn(Recorder::default()).unwrap();
        let worker = system.spawn(Worker::new(recorder)).unwrap();
        system
            .send(&worker, WorkerMsg::Schedule { tag: 1, delay: DAY })
            .unwrap();
        system.sleep(DAY + Duration::from_secs(1));
        let fired = system
            .ask(&recorder, RecorderMsg::Events, Duration::from_secs(1))
            .unwrap()
            .into_iter()
            .find_map(|event| match event {
                Event::TimerFired {
                    set_at, fired_at, ..
                } => Some((set_at, fired_at)),
                _ => None,
            });
        let now = system.now();
        let _ = done.send((fired, now));
    });
    let (fired, now) = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("a virtual day passed in well under a minute of wall time");
    run.join().unwrap();
    assert_eq!(fired, Some((Duration::ZERO, DAY)));
    assert_eq!(now, DAY + Duration::from_secs(1));
}
