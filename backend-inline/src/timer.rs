//! Timers on the virtual clock: delayed messages (`send_after`) and ask timeouts, in the
//! kernel's [`TimerQueue`], and the clock itself. Time moves only when the scheduler jumps it
//! to the next timer (no actor has work) or a blocking call runs up to a deadline.
//!
//! Generic over `C`, the state a delivery runs on (the scheduler's `Core`), so that this module
//! sits below the scheduler and knows nothing of it.

use std::time::Duration;

use actor_core::kernel::{TimerKey, TimerQueue};

/// Delivers a delayed message when its timer fires (`true`), or dead-letters it when shutdown
/// cancels the timer (`false`).
pub(crate) type Delivery<C> = Box<dyn FnOnce(&mut C, bool) + Send>;

/// What a timer does.
pub(crate) enum Timer<C> {
    Deliver(Delivery<C>),
    AskTimeout { request: u64, after: Duration },
}

/// The virtual clock and the timers waiting on it.
pub(crate) struct Timers<C> {
    queue: TimerQueue<Duration, Timer<C>>,
    now: Duration,
}

impl<C> Timers<C> {
    /// The clock at zero, no timers.
    pub fn new() -> Self {
        Self {
            queue: TimerQueue::new(),
            now: Duration::ZERO,
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Moves the clock on to `to`, if it is later.
    pub fn advance_to(&mut self, to: Duration) {
        self.now = self.now.max(to);
    }

    /// Adds a timer due `delay` from now; returns the key that cancels it.
    pub fn add(&mut self, delay: Duration, timer: Timer<C>) -> TimerKey<Duration> {
        self.queue.add(self.now.saturating_add(delay), timer)
    }

    /// Forgets a timer that has not fired.
    pub fn cancel(&mut self, key: TimerKey<Duration>) {
        self.queue.cancel(key);
    }

    /// When the earliest timer is due.
    pub fn next_due(&self) -> Option<Duration> {
        self.queue.next_due()
    }

    /// Takes the earliest timer and moves the clock on to its deadline.
    pub fn pop_next(&mut self) -> Option<Timer<C>> {
        let (due, timer) = self.queue.pop_first()?;
        self.advance_to(due);
        Some(timer)
    }

    /// Takes every timer not yet due, in deadline order (at shutdown); the clock stays.
    pub fn take_all(&mut self) -> Vec<Timer<C>> {
        self.queue.take_all().collect()
    }
}
