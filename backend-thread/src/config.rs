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
    /// How many gone actors' own reports each cell keeps. A gone pool actor's cell serves the
    /// next actor of its type, and of the actors a cell served, the shutdown report lists the
    /// last `gone_reports` one by one and sums the others in
    /// [`ShutdownReport::forgotten`](actor_core::ShutdownReport::forgotten); a watch of one of
    /// those is answered with [`ExitReason::Forgotten`](actor_core::ExitReason::Forgotten). So
    /// a system's memory follows the actors alive at once, not those it ever ran.
    pub gone_reports: usize,
}

impl Default for ThreadConfig {
    /// As many pool threads as the machine has cores.
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            dead_letters_kept: 10_000,
            gone_reports: 64,
        }
    }
}

impl ThreadConfig {
    /// Sets the number of pool threads (at least 1).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Sets how many gone actors' own reports each cell keeps (see
    /// [`gone_reports`](Self::gone_reports)); `usize::MAX` keeps them all.
    ///
    /// ```
    /// let config = backend_thread::ThreadConfig::default().gone_reports(1_000);
    /// assert_eq!(config.gone_reports, 1_000);
    /// ```
    pub fn gone_reports(mut self, kept: usize) -> Self {
        self.gone_reports = kept;
        self
    }
}
