//! [`InlineConfig`]: the seed, the trace, and the limits of an inline system.

use actor_core::seed::seed_from_env;

/// How an inline system runs.
///
/// # Example
/// ```
/// use backend_inline::{InlineConfig, InlineSystem};
/// let system = InlineSystem::with_config(InlineConfig::new(42).trace(true));
/// assert_eq!(system.seed(), 42);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineConfig {
    /// The seed of the scheduler's PRNG: the same seed and calls give the same run.
    pub seed: u64,
    /// Keep the full trace of handled messages (costs 16 bytes a message).
    pub trace: bool,
    /// How many dead letters the report keeps with their messages (the counts are exact).
    pub dead_letters_kept: usize,
    /// The most actor steps one blocking call (`ask`, `run_until_idle`, a draining `shutdown`)
    /// runs before it gives up, so a livelock ends instead of hanging: `ask` then reports a
    /// timeout and `shutdown` dead-letters what is left.
    pub step_limit: u64,
}

impl InlineConfig {
    /// Defaults with the given seed.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            trace: false,
            dead_letters_kept: 10_000,
            step_limit: 100_000_000,
        }
    }

    /// Defaults with the seed from [`SEED_ENV`](crate::SEED_ENV) if it is set, else `seed`.
    pub fn from_env(seed: u64) -> Self {
        Self::new(seed_from_env().unwrap_or(seed))
    }

    /// Turns the trace on or off.
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Sets the step limit of blocking calls.
    pub fn step_limit(mut self, steps: u64) -> Self {
        self.step_limit = steps;
        self
    }
}
