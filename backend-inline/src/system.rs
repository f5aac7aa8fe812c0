//! [`InlineSystem`]: the [`Backend`] implementation. A call from outside drives the scheduler on
//! the caller's thread until it has its answer, so `send` only queues, while `ask`,
//! [`run_until_idle`](InlineSystem::run_until_idle) and `shutdown` run actors.

use std::cell::RefCell;
use std::time::Duration;

use actor_core::kernel::{Stage, take_reply};
use actor_core::{
    Actor, ActorRef, Addr, AskError, Asker, Backend, Message, ReplyTo, SendError, ShutdownMode,
    ShutdownReport, SpawnError, SpawnOptions,
};

use crate::ask::PendingAsk;
use crate::config::InlineConfig;
use crate::runner::{spawn, step};
use crate::scheduler::{Core, Fault, TraceEntry};
use crate::supervisor::stop_all;
use crate::timer::Timer;

/// An actor system that runs every actor on the caller's thread, in an order chosen by a seeded
/// PRNG: deterministic and replayable.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::{Actor, ActorError, Backend, Context, ShutdownMode};
/// use backend_inline::InlineSystem;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Sink;
/// impl Actor for Sink {
///     type Msg = u32;
///     fn handle<C: Context<Self>>(&mut self, _: &mut C, _: u32) -> Result<(), ActorError> { Ok(()) }
/// }
///
/// let system = InlineSystem::with_seed(7);
/// let sink = system.spawn(Sink).unwrap();
/// for n in 0..10 { system.send(&sink, n).unwrap(); }
/// system.run_until_idle();
/// let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(1));
/// assert_eq!(report.total().handled, 10);
/// ```
pub struct InlineSystem {
    pub(crate) core: RefCell<Core>,
}

impl Default for InlineSystem {
    fn default() -> Self {
        Self::new()
    }
}

impl InlineSystem {
    /// A system with seed 0, or the seed in [`SEED_ENV`](crate::SEED_ENV) if it is set.
    pub fn new() -> Self {
        Self::with_config(InlineConfig::from_env(0))
    }

    /// A system with the given seed (the environment is not consulted).
    pub fn with_seed(seed: u64) -> Self {
        Self::with_config(InlineConfig::new(seed))
    }

    /// A system with the given configuration.
    pub fn with_config(config: InlineConfig) -> Self {
        Self {
            core: RefCell::new(Core::new(config)),
        }
    }

    /// The seed this system runs with.
    pub fn seed(&self) -> u64 {
        self.core.borrow().config.seed
    }

    /// Runs actors until none has work left, jumping virtual time to each timer in turn, or
    /// until the step limit. Returns the number of steps run.
    pub fn run_until_idle(&self) -> u64 {
        self.run_until(Duration::MAX)
    }

    /// Runs actors and timers up to virtual time `deadline` (or the step limit); the clock ends
    /// at `deadline` if it was reached. Returns the number of steps run.
    fn run_until(&self, deadline: Duration) -> u64 {
        let mut core = self.core.borrow_mut();
        let limit = core.config.step_limit;
        let mut steps = 0;
        while steps < limit {
            let timer_due = core.timers.next_due().is_some_and(|due| due <= deadline);
            if !(step(&mut core) || (timer_due && core.fire_next_timer())) {
                break;
            }
            steps += 1;
        }
        if steps < limit && deadline != Duration::MAX {
            core.timers.advance_to(deadline);
        }
        steps
    }

    /// Adds a fault to inject. It applies to the actor's future steps.
    pub fn inject(&self, fault: Fault) {
        self.core.borrow_mut().faults.push(fault);
    }

    /// The handled messages so far, in order, if the trace is on (see [`InlineConfig::trace`]).
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.core.borrow().trace.entries().to_vec()
    }

    /// A hash of the whole trace so far, kept even with the trace off: two runs with the same
    /// fingerprint handled the same messages in the same order (up to hash collisions).
    pub fn fingerprint(&self) -> u64 {
        self.core.borrow().trace.fingerprint()
    }

    /// The virtual time: it moves only when no actor has work and a timer is due.
    pub fn now(&self) -> Duration {
        self.core.borrow().now()
    }
}

impl Backend for InlineSystem {
    fn spawn_with<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<Addr<A::Msg>, SpawnError> {
        spawn(&mut self.core.borrow_mut(), actor, options, None)
    }

    fn send<M: Message>(&self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>> {
        self.core.borrow_mut().send(None, to.id(), msg, None)
    }

    fn ask<M: Message, R: Message>(
        &self,
        to: &impl ActorRef<M>,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, AskError> {
        let mut core = self.core.borrow_mut();
        let request = core.open_ask(timeout, PendingAsk::External);
        let msg = make(ReplyTo::new(Asker::External, request));
        if let Err(err) = core.send(None, to.id(), msg, Some(request)) {
            core.cancel_ask(request);
            return Err(AskError::Rejected(err.reason().clone()));
        }
        let limit = core.config.step_limit;
        let mut steps = 0u64;
        loop {
            if let Some(outcome) = core.asks.take_external(request) {
                return outcome.and_then(take_reply::<R>);
            }
            // The ask's own timeout is a timer, so this ends: with a reply or with that timer.
            if steps >= limit || !(step(&mut core) || core.fire_next_timer()) {
                core.cancel_ask(request);
                return Err(AskError::Timeout(timeout));
            }
            steps += 1;
        }
    }

    /// Runs actors and timers until the virtual clock has moved on by `duration`; no wall time
    /// passes.
    fn sleep(&self, duration: Duration) {
        let deadline = self.now().saturating_add(duration);
        self.run_until(deadline);
    }

    fn now(&self) -> Duration {
        InlineSystem::now(self)
    }

    /// Shuts down on the caller's thread. Nothing runs concurrently, so no actor is ever in the
    /// middle of a message here, and `timeout` is not needed: a drain is bounded by the step
    /// limit instead.
    fn shutdown(self, mode: ShutdownMode, _timeout: Duration) -> ShutdownReport {
        shutdown_core(&mut self.core.borrow_mut(), mode)
    }
}

impl Drop for InlineSystem {
    /// Dropping a system that was not shut down stops its actors (running their `stopped`
    /// hooks) without draining.
    fn drop(&mut self) {
        let core = self.core.get_mut();
        if core.stage.is_open() {
            shutdown_core(core, ShutdownMode::DeadLetter);
        }
    }
}

fn shutdown_core(core: &mut Core, mode: ShutdownMode) -> ShutdownReport {
    if mode == ShutdownMode::Drain {
        core.stage = Stage::Draining;
        let mut steps = 0;
        while steps < core.config.step_limit && step(core) {
            steps += 1;
        }
    }
    core.stage = Stage::Stopping;
    // Timers not yet due are not waited for: their messages become dead letters.
    for timer in core.timers.take_all() {
        if let Timer::Deliver(deliver) = timer {
            deliver(core, false);
        }
    }
    core.asks.clear();
    stop_all(core);
    let (actors, late_replies) = (core.reports(), core.asks.late_replies());
    // Every actor's report is kept: an inline system is a test's or a debugging session's.
    core.records.build(
        actors,
        actor_core::Forgotten::default(),
        late_replies,
        Vec::new(),
    )
}
