//! The host's timers: when the next is due, firing those that are, and what is left of them at
//! shutdown.

use std::time::{Duration, Instant};

use actor_core::kernel::{TimerKey, deadline_after};
use actor_core::{AskError, DeadLetterReason};

use super::{Admission, State};
use crate::timer::Timer;

impl State {
    pub(crate) fn until_next_timer(&self) -> Duration {
        self.timers
            .next_due()
            .map_or(Duration::from_secs(3600), |at| {
                at.saturating_duration_since(Instant::now())
            })
    }

    pub fn add_timer(&mut self, delay: Duration, timer: Timer) -> TimerKey<Instant> {
        // A delay from a child is untrusted: `Duration::MAX` must not overflow the clock.
        self.timers.add(deadline_after(delay), timer)
    }

    pub(crate) fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some((_, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::Deliver {
                    to,
                    msg_type,
                    payload,
                } => self.route_from_child(to, msg_type, &payload, None, Admission::Scheduled),
                Timer::AskTimeout {
                    asker,
                    request,
                    after,
                } => self.complete_ask(asker, request, Err(AskError::Timeout(after))),
            }
        }
    }

    /// At shutdown: every timer not yet due becomes a dead letter.
    pub fn cancel_timers(&mut self) {
        for timer in self.timers.take_all() {
            if let Timer::Deliver { to, payload, .. } = timer {
                self.dead_on_arrival(to, DeadLetterReason::Shutdown, payload, true);
            }
        }
    }
}
