//! Criterion benches of the thread backend's hot paths, each beside its bare baseline (two
//! threads and crossbeam channels, no actors): `cargo bench -p bench-suite --bench thread`.

// criterion's macros generate an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use actor_core::{Backend, ShutdownMode};
use backend_thread::ThreadSystem;
use bench_suite::baselines;
use bench_suite::workloads::{fan_in, ping_pong, spawn_stop};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("thread");
    group.measurement_time(Duration::from_secs(5));

    const ROUNDS: u64 = 10_000;
    group.throughput(Throughput::Elements(ROUNDS));
    let system = ThreadSystem::new().unwrap();
    let (server, peer) = ping_pong::players(&system).unwrap();
    group.bench_function("ping_pong_round_trips", |b| {
        b.iter(|| ping_pong::play(&system, &server, &peer, ROUNDS).unwrap());
    });
    group.bench_function("bare_crossbeam_round_trips", |b| {
        b.iter(|| baselines::crossbeam_round_trip(ROUNDS).unwrap());
    });

    const PER_PRODUCER: u64 = 25_000;
    group.throughput(Throughput::Elements(4 * PER_PRODUCER));
    group.bench_function("fan_in_4_producers", |b| {
        b.iter(|| fan_in::run(&system, 4, PER_PRODUCER).unwrap());
    });
    group.bench_function("bare_crossbeam_fan_in_4_threads", |b| {
        b.iter(|| baselines::crossbeam_fan_in(4, PER_PRODUCER).unwrap());
    });

    const ACTORS: u64 = 10_000;
    group.throughput(Throughput::Elements(ACTORS));
    group.bench_function("spawn_stop", |b| {
        b.iter(|| spawn_stop::run(&system, ACTORS).unwrap());
    });
    group.finish();
    assert!(
        system
            .shutdown(ShutdownMode::Drain, Duration::from_secs(10))
            .is_balanced()
    );
}

criterion_group!(benches, thread);
criterion_main!(benches);
