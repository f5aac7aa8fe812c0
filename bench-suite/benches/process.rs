//! Criterion benches of the process backend's hot paths, each beside its bare baseline (two
//! processes and a bare `ipc-channel`): `cargo bench -p bench-suite --bench process`.

// criterion's macros generate an undocumented public function.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorError, Backend, Context, ReplyTo, RestartLimit, ShutdownMode, SpawnOptions,
    Supervision,
};
use backend_process::ProcessSystem;
use bench_suite::ipc;
use bench_suite::workloads::{fan_in, ping_pong, spawn_stop};
use criterion::{Criterion, Throughput};

fn process(c: &mut Criterion) {
    let mut group = c.benchmark_group("process");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);

    const ROUNDS: u64 = 200;
    group.throughput(Throughput::Elements(ROUNDS));
    let system = ProcessSystem::new().unwrap();
    let (server, peer) = ping_pong::players(&system).unwrap();
    group.bench_function("ping_pong_round_trips", |b| {
        b.iter(|| ping_pong::play(&system, &server, &peer, ROUNDS).unwrap());
    });
    // The bare baselines time their runs only, not their peer's start (as the report does).
    group.bench_function("bare_ipc_round_trips", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ipc::round_trip(ROUNDS).unwrap()).sum())
    });

    const MESSAGES: u64 = 2_000;
    group.throughput(Throughput::Elements(MESSAGES));
    // The two actors are spawned, and have started, before the clock starts.
    group.bench_function("counting_one_producer", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let spawned = fan_in::Spawned::ready(&system, 1).unwrap();
                    let start = Instant::now();
                    spawned.fan_in(&system, MESSAGES).unwrap();
                    start.elapsed()
                })
                .sum()
        });
    });
    group.bench_function("bare_ipc_one_way_by_64", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| ipc::one_way(MESSAGES, 64).unwrap())
                .sum()
        })
    });

    const ACTORS: u64 = 20;
    group.throughput(Throughput::Elements(ACTORS));
    group.bench_function("spawn_stop", |b| {
        b.iter(|| spawn_stop::run(&system, ACTORS).unwrap())
    });

    // From `kill -9` of an actor's process until its restarted process has handled a message:
    // the death seen (the channel closes), the journal read, a spare process booted as the
    // actor, and the message (sent right after the kill) handled there. Each crash finds the
    // system at rest (a pause, untimed, lets the launcher start the next spare): crashes back
    // to back each wait for a process to start as well, about a millisecond more.
    group.throughput(Throughput::Elements(1));
    let unlimited = Supervision::Restart(RestartLimit::new(u32::MAX, Duration::from_secs(1)));
    let victim = system
        .spawn_with(Victim, SpawnOptions::new().supervision(unlimited))
        .unwrap();
    group.bench_function("kill_9_to_handling_again", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let pid = system.ask(&victim, |r| r, Duration::from_secs(10)).unwrap();
                std::thread::sleep(Duration::from_millis(10));
                let process = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
                let killed_at = Instant::now();
                rustix::process::kill_process(process, rustix::process::Signal::KILL).unwrap();
                let new_pid = system.ask(&victim, |r| r, Duration::from_secs(10)).unwrap();
                total += killed_at.elapsed();
                assert_ne!(new_pid, pid, "answered by the restarted process");
            }
            total
        })
    });
    group.finish();
    assert!(
        system
            .shutdown(ShutdownMode::Drain, Duration::from_secs(10))
            .is_balanced()
    );
}

/// Answers with the id of the process it runs in.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Victim;

impl Actor for Victim {
    type Msg = ReplyTo<u32>;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        msg: ReplyTo<u32>,
    ) -> Result<(), ActorError> {
        ctx.reply(msg, std::process::id());
        Ok(())
    }
}

fn main() {
    // The actors' processes, and the bare baseline's peer, are re-executions of this binary.
    backend_process::init();
    ipc::serve_if_peer();
    let mut criterion = Criterion::default().configure_from_args();
    process(&mut criterion);
    criterion.final_summary();
}
