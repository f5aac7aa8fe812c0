//! One workload on the process backend, for a profiler (`perf record -e cpu-clock -g` follows
//! the actors' processes): `cargo run --release -p bench-suite --example process_profile --
//! <one-way|counting|ping-pong|ping-pong-matches|seed> [size]`. `ping-pong-matches` plays `size`
//! round trips in matches of 200 (or `MATCH_ROUNDS`) on one warmed-up pair, as the criterion
//! bench does; `seed` is the seed's test 5 (spawns included) counting down `size` in all, after its
//! test 1 (one thread) for the speedup.

use std::time::{Duration, Instant};

use actor_core::{Backend, ShutdownMode};
use backend_process::ProcessSystem;
use bench_suite::workloads::{fan_in, ping_pong, seed};

fn main() {
    backend_process::init();
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "one-way".into());
    let size: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let system = ProcessSystem::new().expect("system");
    let pair = if workload == "ping-pong-matches" {
        let (server, peer) = ping_pong::players(&system).expect("players");
        ping_pong::play(&system, &server, &peer, 200).expect("a warm-up match");
        Some((server, peer))
    } else {
        None
    };
    let rounds: u64 = std::env::var("MATCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    // The seed's speedup needs its test 1 (one thread, all of n) in the same run.
    let one_thread = (workload == "seed").then(|| {
        let start = Instant::now();
        let counted = seed::count_down(size);
        (start.elapsed(), counted)
    });
    let start = Instant::now();
    let done = match workload.as_str() {
        "ping-pong-matches" => pair
            .map(|(server, peer)| {
                (0..size / rounds)
                    .map(|_| ping_pong::play(&system, &server, &peer, rounds))
                    .sum::<Result<u64, _>>()
            })
            .expect("players"),
        "one-way" => fan_in::run_from_outside(&system, size),
        "counting" => fan_in::run(&system, 1, size),
        "ping-pong" => ping_pong::run(&system, size),
        "seed" => seed::run_actors(&system, size, 5).map(|outcome| outcome.counted),
        other => panic!("unknown workload {other}"),
    }
    .expect("the workload runs");
    let elapsed = start.elapsed();
    println!(
        "{workload} on processes: {done} units in {:.1} ms, {:.1} ns each",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_nanos() as f64 / size as f64
    );
    if let Some((alone, counted)) = one_thread {
        println!(
            "one thread: {counted} units in {:.1} ms; speedup {:.3}",
            alone.as_secs_f64() * 1e3,
            alone.as_secs_f64() / elapsed.as_secs_f64()
        );
    }
    system.shutdown(ShutdownMode::Drain, Duration::from_secs(30));
}
