//! One workload on the thread backend, for a profiler: `cargo run --release -p bench-suite
//! --example thread_profile -- <ping-pong|fan-in|spawn-stop> [threads] [size] [rounds]`.
//!
//! With more than one round the workload runs again in the same system: on one thread,
//! `spawn-stop 1 N 2` less `spawn-stop 1 N 1` is, under callgrind, the exact cost of N actors
//! whose cells are all used again (the first round leaves N free cells), with no other thread
//! to make the count vary.

use std::time::{Duration, Instant};

use actor_core::{Backend, ShutdownMode};
use backend_thread::{ThreadConfig, ThreadSystem};
use bench_suite::workloads::{fan_in, ping_pong, spawn_stop};

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "ping-pong".into());
    let threads = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let size: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let system =
        ThreadSystem::with_config(ThreadConfig::default().threads(threads)).expect("system");
    for _ in 0..rounds {
        let start = Instant::now();
        let done = match workload.as_str() {
            "ping-pong" => ping_pong::run(&system, size),
            "fan-in" => fan_in::run(&system, 4, size / 4),
            "spawn-stop" => spawn_stop::run(&system, size),
            other => panic!("unknown workload {other}"),
        }
        .expect("the workload runs");
        let elapsed = start.elapsed();
        println!(
            "{workload} on {threads} threads: {done} units, {:.1} ns each",
            elapsed.as_nanos() as f64 / size as f64
        );
    }
    let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(30));
    // Ids carry their cell's index in the low 32 bits (a gone actor's cell serves the next).
    let cells: std::collections::HashSet<u64> = report
        .actors
        .iter()
        .map(|a| a.id.get() & 0xffff_ffff)
        .collect();
    println!("{} actors in {} cells", report.actors.len(), cells.len());
}
