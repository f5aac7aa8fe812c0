//! [`ThreadConfig`]: how a thread system runs.

/// How a thread system runs.
///
/// # Example
/// ```
/// let config = backend_thread::ThreadConfig::default().threads(2);
/// assert_eq!(config.threads, 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadConfig {
    /// Worker threads of the pool (dedicated actors have threads of their own besides).
    pub threads: usize,
    /// How many dead letters the report keeps with their messages (the counts are exact).
    pub dead_letters_kept: usize,
}

impl Default for ThreadConfig {
    /// As many pool threads as the machine has cores.
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            dead_letters_kept: 10_000,
        }
    }
}

impl ThreadConfig {
    /// Sets the number of pool threads (at least 1).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }
}
