//! Timers in deadline order, on any clock: a delayed message or an ask's timeout waits here
//! until it is due, and can be cancelled by the key it was given.
//!
//! The clock is the backend's: [`Duration`] since start (virtual) on inline, [`Instant`] on the
//! wall-clock backends. Timers due at the same time fire in the order they were added.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The deadline `timeout` from now on the wall clock, or a century away when `timeout` is too
/// long to add (`Duration::MAX` means "no timeout").
///
/// # Example
/// ```
/// use std::time::{Duration, Instant};
/// use actor_core::kernel::deadline_after;
/// assert!(deadline_after(Duration::MAX) > Instant::now() + Duration::from_secs(86_400));
/// ```
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// What names one timer, to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerKey<I> {
    at: I,
    seq: u64,
}

impl<I: Copy> TimerKey<I> {
    /// When the timer is due.
    pub fn due(&self) -> I {
        self.at
    }
}

/// Timers of kind `T`, ordered by their deadline `I`.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::kernel::TimerQueue;
/// let mut timers = TimerQueue::new();
/// let late = timers.add(Duration::from_secs(2), "late");
/// timers.add(Duration::from_secs(1), "early");
/// assert_eq!(timers.cancel(late), Some("late"));
/// assert_eq!(timers.pop_due(Duration::from_secs(1)), Some((Duration::from_secs(1), "early")));
/// assert!(timers.is_empty());
/// ```
pub struct TimerQueue<I, T> {
    due: BTreeMap<TimerKey<I>, T>,
    next_seq: u64,
}

impl<I, T> Default for TimerQueue<I, T> {
    fn default() -> Self {
        Self {
            due: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<I: Ord + Copy, T> TimerQueue<I, T> {
    /// No timers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a timer due at `at`; returns its key.
    pub fn add(&mut self, at: I, timer: T) -> TimerKey<I> {
        let key = TimerKey {
            at,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.due.insert(key, timer);
        key
    }

    /// Takes the timer `key` out, if it has not fired or been cancelled.
    pub fn cancel(&mut self, key: TimerKey<I>) -> Option<T> {
        self.due.remove(&key)
    }

    /// When the earliest timer is due.
    pub fn next_due(&self) -> Option<I> {
        self.due.first_key_value().map(|(key, _)| key.at)
    }

    /// Takes the earliest timer out if it is due by `now`, with its deadline.
    pub fn pop_due(&mut self, now: I) -> Option<(I, T)> {
        if self.next_due()? > now {
            return None;
        }
        self.pop_first()
    }

    /// Takes the earliest timer out, due or not, with its deadline.
    pub fn pop_first(&mut self) -> Option<(I, T)> {
        self.due.pop_first().map(|(key, timer)| (key.at, timer))
    }

    /// Takes every timer out, earliest first (shutdown cancels them).
    pub fn take_all(&mut self) -> impl Iterator<Item = T> + use<I, T> {
        std::mem::take(&mut self.due).into_values()
    }

    /// How many timers wait.
    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// Whether no timer waits.
    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }
}
