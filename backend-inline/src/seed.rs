//! Seeds: where a run's seed comes from, and how a failing test tells you how to replay it.

use std::hash::{BuildHasher, RandomState};

/// The environment variable that fixes the seed of every [`InlineSystem`](crate::InlineSystem)
/// built with [`InlineConfig::from_env`](crate::InlineConfig::from_env) and of
/// [`test_seed`]: set it to the seed a failing test printed to replay that run exactly.
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
/// let seed = backend_inline::test_seed();
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
            eprintln!("inline backend: this run used seed {0}; replay it with {SEED_ENV}={0}", self.0);
        }
    }
}

/// SplitMix64: small, fast and good enough to pick the next actor. Deterministic by design.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0), by multiply-shift: no division, negligible bias.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}
