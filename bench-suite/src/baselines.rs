//! The bare baselines, with no actor runtime: what each backend's figure is divided by.
//! Each checks its own result, like the workloads.

use std::process::Command;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;

use crate::workloads::{WorkloadError, check, seed};

/// `rounds` round trips of a `u64` between two threads over two crossbeam channels.
///
/// # Errors
/// A thread that died, or a wrong count.
pub fn crossbeam_round_trip(rounds: u64) -> Result<Duration, WorkloadError> {
    let (to_echo, echo_in) = unbounded::<u64>();
    let (to_main, main_in) = unbounded::<u64>();
    let echo = std::thread::spawn(move || {
        for n in echo_in {
            if to_main.send(n + 1).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        to_echo
            .send(n)
            .map_err(|e| WorkloadError::Baseline(e.to_string()))?;
        n = main_in
            .recv()
            .map_err(|e| WorkloadError::Baseline(e.to_string()))?;
    }
    let elapsed = start.elapsed();
    drop(to_echo);
    echo.join()
        .map_err(|_| WorkloadError::Baseline("echo thread panicked".into()))?;
    check(rounds, n)?;
    Ok(elapsed)
}

/// `producers` threads each send `per_producer` numbers over one crossbeam channel to the
/// calling thread, which sums them.
///
/// # Errors
/// A thread that died, or a wrong count or sum.
pub fn crossbeam_fan_in(producers: usize, per_producer: u64) -> Result<Duration, WorkloadError> {
    let (tx, rx) = unbounded::<u64>();
    // The threads are started before the clock, as the workloads' actors are spawned before
    // theirs: they wait at the barrier until it starts.
    let ready = std::sync::Arc::new(std::sync::Barrier::new(producers + 1));
    let handles: Vec<_> = (0..producers as u64)
        .map(|k| {
            let tx = tx.clone();
            let ready = std::sync::Arc::clone(&ready);
            std::thread::spawn(move || {
                ready.wait();
                for n in k * per_producer..(k + 1) * per_producer {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    ready.wait();
    let start = Instant::now();
    let (mut count, mut sum) = (0u64, 0u64);
    for n in rx {
        count += 1;
        sum = sum.wrapping_add(n);
    }
    let elapsed = start.elapsed();
    for handle in handles {
        handle
            .join()
            .map_err(|_| WorkloadError::Baseline("producer thread panicked".into()))?;
    }
    let total = producers as u64 * per_producer;
    check(
        (total, total.wrapping_mul(total.wrapping_sub(1)) / 2),
        (count, sum),
    )?;
    Ok(elapsed)
}

/// The seed's tests 1 and 2: one thread counting down `n`.
///
/// # Errors
/// A wrong count.
pub fn one_thread(n: u64) -> Result<Duration, WorkloadError> {
    let start = Instant::now();
    let counted = seed::count_down(n);
    let elapsed = start.elapsed();
    check(n, counted)?;
    Ok(elapsed)
}

/// The seed's test 4: `threads` threads counting down their shares of `n`.
///
/// # Errors
/// A wrong total.
pub fn threads(n: u64, threads: usize) -> Result<Duration, WorkloadError> {
    let start = Instant::now();
    seed::run_threads(n, threads)?;
    Ok(start.elapsed())
}

/// The seed's test 3: a child process (this binary, re-executed) counting down `n`, timed from
/// the parent, start-up and exit included.
///
/// # Errors
/// A child that did not start, failed, or printed a wrong count.
pub fn child_process(n: u64) -> Result<Duration, WorkloadError> {
    let exe = std::env::current_exe().map_err(|e| WorkloadError::Baseline(e.to_string()))?;
    let start = Instant::now();
    let output = Command::new(exe)
        .args(["count-down", &n.to_string()])
        .output()
        .map_err(|e| WorkloadError::Baseline(format!("child process: {e}")))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(WorkloadError::Baseline(format!(
            "child process exited with {}",
            output.status
        )));
    }
    let counted = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<u64>()
        .unwrap_or(u64::MAX);
    check(n, counted)?;
    Ok(elapsed)
}

/// One thread doing the fork-join's work with no messages: `jobs` small jobs.
///
/// # Errors
/// Never; it returns a result like the others.
pub fn fork_join_work(jobs: u64) -> Result<Duration, WorkloadError> {
    let start = Instant::now();
    let total = (0..jobs)
        .map(crate::workloads::fork_join::small_work)
        .fold(0u64, u64::wrapping_add);
    std::hint::black_box(total);
    Ok(start.elapsed())
}

/// A count-down of `n` that lasts about `target` on this machine (a multiple of 5, at least 5).
/// It takes the median of five probes of about 0.1 s each: a single probe is at the mercy of a
/// noisy neighbour, the fastest of several too optimistic for a run of seconds.
pub fn calibrate_seed_n(target: Duration) -> u64 {
    const PROBE: u64 = 150_000_000;
    let mut per_step: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(seed::count_down(PROBE));
            start.elapsed().as_secs_f64() / PROBE as f64
        })
        .collect();
    per_step.sort_by(f64::total_cmp);
    let n = (target.as_secs_f64() / per_step[2].max(1e-12)) as u64;
    (n / 5).max(1) * 5
}
