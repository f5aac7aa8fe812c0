//! Seeds for reproducible runs: where a run's seed comes from, and how a failing test says how to
//! replay it. The inline backend's scheduler is driven by a seed; the conformance suite's
//! properties generate one; other backends ignore it.

use std::hash::{BuildHasher, RandomState};

/// The environment variable that fixes the seed of [`test_seed`] and of inline systems built from
/// the environment: set it to the seed a failing test printed to replay that run exactly.
pub const SEED_ENV: &str = "ACTOR_SEED";

/// The seed fixed by [`SEED_ENV`], if it is set to a number.
pub fn seed_from_env() -> Option<u64> {
    std::env::var(SEED_ENV).ok()?.trim().parse().ok()
}

/// A fresh random seed (from the standard library's per-process hash keys: no clock involved).
pub fn random_seed() -> u64 {
    RandomState::new().hash_one(0x5eed_u64)
}

/// A seed for one test run: [`SEED_ENV`] if set, otherwise a fresh random one. If the test then
/// panics, the guard prints the seed and the command line to replay it.
///
/// # Example
/// ```
/// let seed = actor_core::seed::test_seed();
/// let system = backend_inline::InlineSystem::with_seed(seed.get());
/// # drop(system);
/// ```
pub fn test_seed() -> TestSeed {
    TestSeed(seed_from_env().unwrap_or_else(random_seed))
}

/// A test's seed; prints itself if the test panics while it is alive.
#[derive(Debug)]
pub struct TestSeed(u64);

impl TestSeed {
    /// The seed.
    pub fn get(&self) -> u64 {
        self.0
    }
}

impl Drop for TestSeed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "this run used seed {0}; replay it with {SEED_ENV}={0}",
                self.0
            );
        }
    }
}
