//! Deadlines from user-given timeouts, shared by the backends.

use std::time::{Duration, Instant};

/// The instant `timeout` from now, or a hundred years from now if that is later than the clock
/// can express (`Duration::MAX` is a common way to say "no timeout"): never a panic.
///
/// # Example
/// ```
/// use std::time::{Duration, Instant};
/// assert!(actor_core::deadline_after(Duration::MAX) > Instant::now());
/// ```
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}
