//! Savina's Fork-Join throughput: a driver outside any actor sends `per_worker` short messages
//! to each of `workers` actors, then collects their totals. Measures scheduling overhead when
//! many actors each have a little to do.

use actor_core::{Actor, ActorError, Backend, Context, ReplyTo};
use serde::{Deserialize, Serialize};

use super::{TIMEOUT, WorkloadError, check};

/// Does a little arithmetic per message and keeps a running total.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ForkWorker {
    total: u64,
}

/// A message to a [`ForkWorker`].
#[derive(Debug, Serialize, Deserialize)]
pub enum ForkMsg {
    /// A small job.
    Job(u64),
    /// Reply with the total so far.
    Total(ReplyTo<u64>),
}

/// Savina's per-message work: a few floating-point operations (kept, so not optimised away).
pub fn small_work(n: u64) -> u64 {
    let x = std::hint::black_box(n as f64);
    let y = (x.sin() * x.cos()).abs() * 1e3;
    n + (y as u64 % 2)
}

impl Actor for ForkWorker {
    type Msg = ForkMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: ForkMsg) -> Result<(), ActorError> {
        match msg {
            ForkMsg::Job(n) => self.total = self.total.wrapping_add(small_work(n)),
            ForkMsg::Total(reply_to) => ctx.reply(reply_to, self.total),
        }
        Ok(())
    }
}

/// Runs the fork-join; returns the number of jobs handled.
///
/// # Errors
/// A failed spawn, send or ask, or totals that are not what the jobs add up to.
pub fn run<B: Backend>(system: &B, workers: usize, per_worker: u64) -> Result<u64, WorkloadError> {
    let all = (0..workers)
        .map(|_| system.spawn(ForkWorker::default()))
        .collect::<Result<Vec<_>, _>>()?;
    for n in 0..per_worker {
        for worker in &all {
            system.send(worker, ForkMsg::Job(n))?;
        }
    }
    let expected: u64 = (0..per_worker).map(small_work).fold(0, u64::wrapping_add);
    for worker in &all {
        check(expected, system.ask(worker, ForkMsg::Total, TIMEOUT)?)?;
    }
    Ok(workers as u64 * per_worker)
}
