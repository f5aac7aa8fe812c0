//! [`ProcessConfig`]: how a process system runs (frame limit, dead letters kept, spare
//! processes).

/// How a process system runs.
///
/// # Example
/// ```
/// let config = backend_process::ProcessConfig::default().max_frame(1 << 20);
/// assert_eq!(config.max_frame, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The largest encoded message (or spawned actor state) accepted, in bytes. A child that
    /// sends a bigger one fails, as for an undecodable frame; a send from outside gets
    /// [`SendFailure::Transport`](actor_core::SendFailure::Transport).
    pub max_frame: usize,
    /// How many dead letters the report keeps with their messages (the counts are exact).
    pub dead_letters_kept: usize,
    /// How many processes to keep started ahead of need, connected and waiting to become an
    /// actor, from the first spawn on: a spawn or a restart then skips the `exec` (about a
    /// millisecond). 0 starts each process when it is needed.
    pub spare_processes: usize,
}

impl Default for ProcessConfig {
    /// A 16 MiB frame limit, one spare process.
    fn default() -> Self {
        Self {
            max_frame: 16 << 20,
            dead_letters_kept: 10_000,
            spare_processes: 1,
        }
    }
}

impl ProcessConfig {
    /// Sets the frame limit (at most 4 GiB less 1 KiB: a bigger one counts as that).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Sets the number of spare processes.
    ///
    /// # Example
    /// ```
    /// // A burst of spawns at start-up: four processes ready ahead of need.
    /// let config = backend_process::ProcessConfig::default().spare_processes(4);
    /// assert_eq!(config.spare_processes, 4);
    /// ```
    pub fn spare_processes(mut self, spares: usize) -> Self {
        self.spare_processes = spares;
        self
    }
}
