//! The seed's program: a `ResultCollector` splits a count-down over `Counter` workers and waits
//! for each to reply "finished". Written once; run by the tests and the benchmark on every
//! backend.

use actor_core::{
    Actor, ActorError, ActorId, ActorRef, Addr, Backend, Context, ReplyTo, SpawnOptions,
};
use serde::{Deserialize, Serialize};

use super::{TIMEOUT, WorkloadError, check};

/// The seed's CPU-bound task: counts `n` down to zero, one step at a time, and returns the
/// number of steps. `black_box` keeps the compiler from folding the loop away.
///
/// # Example
/// ```
/// assert_eq!(bench_suite::workloads::seed::count_down(1000), 1000);
/// ```
#[inline(never)] // one copy of the loop, so every test times the same machine code
pub fn count_down(n: u64) -> u64 {
    let mut n = n;
    let mut steps = 0u64;
    while std::hint::black_box(n) > 0 {
        n -= 1;
        steps += 1;
    }
    steps
}

/// The seed's `Counter`: counts down the number it receives, then tells the sender it finished.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Counter;

/// A message to a [`Counter`].
#[derive(Debug, Serialize, Deserialize)]
pub struct CountDown {
    /// How far to count down.
    pub n: u64,
    /// Who to tell when finished.
    pub reply_to: Addr<CollectorMsg>,
}

impl Actor for Counter {
    type Msg = CountDown;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: CountDown) -> Result<(), ActorError> {
        let counted = count_down(msg.n);
        let worker = ctx.myself().id();
        ctx.send(&msg.reply_to, CollectorMsg::Finished { worker, counted })
            .map_err(|e| ActorError::new(e.to_string()))
    }
}

/// What the collector reports once every worker has finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedOutcome {
    /// How many workers replied "finished".
    pub finished: u64,
    /// The steps they counted, summed: equals the `n` handed out.
    pub counted: u64,
}

/// The seed's `ResultCollector`: sends the work out and counts the replies.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ResultCollector {
    workers: Vec<Addr<CountDown>>,
    #[serde(skip)]
    waiting: Option<ReplyTo<SeedOutcome>>,
    finished: u64,
    counted: u64,
}

impl ResultCollector {
    /// A collector for these workers.
    pub fn new(workers: Vec<Addr<CountDown>>) -> Self {
        Self {
            workers,
            ..Self::default()
        }
    }
}

/// A message to a [`ResultCollector`].
#[derive(Debug, Serialize, Deserialize)]
pub enum CollectorMsg {
    /// Split a count-down of `n` over the workers; reply when all have finished.
    Run {
        /// The total to count down.
        n: u64,
        /// Where the outcome goes.
        reply_to: ReplyTo<SeedOutcome>,
    },
    /// A worker finished its share.
    Finished {
        /// Which worker.
        worker: ActorId,
        /// The steps it counted.
        counted: u64,
    },
}

impl Actor for ResultCollector {
    type Msg = CollectorMsg;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        msg: CollectorMsg,
    ) -> Result<(), ActorError> {
        match msg {
            CollectorMsg::Run { n, reply_to } => {
                let me = ctx.myself();
                for (i, worker) in self.workers.iter().enumerate() {
                    let share = split(n, self.workers.len(), i);
                    ctx.send(
                        worker,
                        CountDown {
                            n: share,
                            reply_to: me,
                        },
                    )
                    .map_err(|e| ActorError::new(e.to_string()))?;
                }
                self.waiting = Some(reply_to);
                self.finished = 0;
                self.counted = 0;
            }
            CollectorMsg::Finished { counted, .. } => {
                self.finished += 1;
                self.counted += counted;
                if self.finished == self.workers.len() as u64
                    && let Some(reply_to) = self.waiting.take()
                {
                    ctx.reply(
                        reply_to,
                        SeedOutcome {
                            finished: self.finished,
                            counted: self.counted,
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

/// Worker `i`'s share of `n` split `parts` ways (the remainder goes to the first ones).
pub fn split(n: u64, parts: usize, i: usize) -> u64 {
    let parts = parts as u64;
    n / parts + u64::from((i as u64) < n % parts)
}

/// Runs the seed's actor program: `workers` counters (on dedicated threads where the backend
/// has them) and a collector, counting down `n` in total. Checks that every worker finished and
/// the shares add up to `n`.
///
/// # Errors
/// A spawn, send or ask that failed, or a wrong outcome.
pub fn run_actors<B: Backend>(
    system: &B,
    n: u64,
    workers: usize,
) -> Result<SeedOutcome, WorkloadError> {
    let counters = (0..workers)
        .map(|_| system.spawn_with(Counter, SpawnOptions::new().dedicated()))
        .collect::<Result<Vec<_>, _>>()?;
    let collector = system.spawn(ResultCollector::new(counters))?;
    let outcome = system.ask(
        &collector,
        |reply_to| CollectorMsg::Run { n, reply_to },
        TIMEOUT,
    )?;
    check(
        SeedOutcome {
            finished: workers as u64,
            counted: n,
        },
        outcome,
    )?;
    Ok(outcome)
}

/// The seed's test 4 without actors: `threads` OS threads each counting down their share.
///
/// # Errors
/// A wrong total.
pub fn run_threads(n: u64, threads: usize) -> Result<u64, WorkloadError> {
    let counted: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| scope.spawn(move || count_down(split(n, threads, i))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    check(n, counted)?;
    Ok(counted)
}
