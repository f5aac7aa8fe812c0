//! Criterion benches of the inline backend's hot path: ping-pong (send → handle → send back)
//! and fan-in (four producers into one actor). `cargo bench -p bench-suite --bench inline`.

// criterion's macros generate an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use backend_inline::InlineSystem;
use bench_suite::workloads::{fan_in, ping_pong};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn inline(c: &mut Criterion) {
    let mut group = c.benchmark_group("inline");
    group.measurement_time(Duration::from_secs(5));

    const ROUNDS: u64 = 10_000;
    let system = InlineSystem::with_seed(1);
    let (server, peer) = ping_pong::players(&system).unwrap();
    // Two messages (there and back) per round.
    group.throughput(Throughput::Elements(2 * ROUNDS));
    group.bench_function("ping_pong_10k_rounds", |b| {
        b.iter(|| ping_pong::play(&system, &server, &peer, ROUNDS).unwrap());
    });

    const PER_PRODUCER: u64 = 25_000;
    group.throughput(Throughput::Elements(4 * PER_PRODUCER));
    group.bench_function("fan_in_4x25k", |b| {
        b.iter(|| {
            let system = InlineSystem::with_seed(2);
            fan_in::run(&system, 4, PER_PRODUCER).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, inline);
criterion_main!(benches);
