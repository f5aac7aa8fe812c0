//! One timer thread per system: delayed sends and `ask` timeouts, on wall time, in the
//! kernel's timer queue (`actor_core::kernel::TimerQueue`) behind a lock; the thread sleeps
//! on a condition variable until the earliest is due or an earlier one is added. A timer can
//! be cancelled (an ask that completed): it then costs nothing more.

use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actor_core::kernel::{TimerKey, TimerQueue, deadline_after};

use crate::lock;

/// What a timer does: called with `true` when it fires, `false` when shutdown cancels it.
pub(crate) type Action = Box<dyn FnOnce(bool) + Send>;

struct Queue {
    timers: TimerQueue<Instant, Action>,
    stopped: bool,
}

pub(crate) struct Timers {
    queue: Mutex<Queue>,
    /// Woken when a timer earlier than every other is added, and at stop.
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Timers {
    pub fn start(name: String) -> std::io::Result<std::sync::Arc<Self>> {
        let timers = std::sync::Arc::new(Self {
            queue: Mutex::new(Queue {
                timers: TimerQueue::new(),
                stopped: false,
            }),
            changed: Condvar::new(),
            thread: Mutex::new(None),
        });
        let runner = std::sync::Arc::clone(&timers);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || runner.run())?;
        *lock(&timers.thread) = Some(thread);
        Ok(timers)
    }

    /// Runs `action(true)` after `delay`, or `action(false)` at shutdown if it is not due by
    /// then; returns the key that cancels it. After shutdown it is cancelled at once (`None`).
    pub fn add(&self, delay: Duration, action: Action) -> Option<TimerKey<Instant>> {
        // `Duration::MAX` (no timeout) must not overflow the clock.
        let due = deadline_after(delay);
        let mut queue = lock(&self.queue);
        if queue.stopped {
            drop(queue);
            // Outside the lock: the action delivers a dead letter, which takes other locks.
            action(false);
            return None;
        }
        let earliest = queue.timers.next_due().is_none_or(|next| due < next);
        let key = queue.timers.add(due, action);
        drop(queue);
        if earliest {
            self.changed.notify_one();
        }
        Some(key)
    }

    /// Forgets a timer that has not fired; its action is dropped, not run.
    pub fn cancel(&self, key: TimerKey<Instant>) {
        let action = lock(&self.queue).timers.cancel(key);
        // The action's captures are dropped outside the lock.
        drop(action);
    }

    /// Cancels every pending timer (each action runs with `false`) and joins the thread. A
    /// timer added from now on is cancelled at once, by its adder.
    pub fn stop(&self) {
        lock(&self.queue).stopped = true;
        self.changed.notify_one();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }

    fn run(&self) {
        let mut queue = lock(&self.queue);
        loop {
            if queue.stopped {
                let pending: Vec<Action> = queue.timers.take_all().collect();
                drop(queue);
                for action in pending {
                    action(false);
                }
                return;
            }
            let now = Instant::now();
            if let Some((_, action)) = queue.timers.pop_due(now) {
                drop(queue);
                action(true);
                queue = lock(&self.queue);
                continue;
            }
            queue = match queue.timers.next_due() {
                Some(at) => {
                    self.changed
                        .wait_timeout(queue, at - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

    use super::*;

    #[test]
    fn every_timer_added_while_the_thread_stops_is_run_or_cancelled_once() {
        for _ in 0..20 {
            let timers = Timers::start("timer-test".into()).unwrap();
            let calls = Arc::new(AtomicU64::new(0));
            let adders: Vec<_> = (0..4)
                .map(|_| {
                    let (timers, calls) = (Arc::clone(&timers), Arc::clone(&calls));
                    std::thread::spawn(move || {
                        for _ in 0..2_000 {
                            let calls = Arc::clone(&calls);
                            let action: Action = Box::new(move |_| {
                                calls.fetch_add(1, SeqCst);
                            });
                            timers.add(Duration::from_secs(60), action);
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_micros(300));
            timers.stop();
            for adder in adders {
                adder.join().unwrap();
            }
            assert_eq!(
                calls.load(SeqCst),
                4 * 2_000,
                "each timer's action runs once"
            );
        }
    }

    #[test]
    fn a_cancelled_timer_never_runs_and_is_not_kept() {
        let timers = Timers::start("timer-test".into()).unwrap();
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let key = timers
            .add(
                Duration::from_secs(3600),
                Box::new(move |_| {
                    counted.fetch_add(1, SeqCst);
                }),
            )
            .unwrap();
        timers.cancel(key);
        assert!(lock(&timers.queue).timers.is_empty());
        timers.stop();
        assert_eq!(
            calls.load(SeqCst),
            0,
            "neither fired nor cancelled by the stop"
        );
    }

    #[test]
    fn an_earlier_timer_added_later_fires_first() {
        let timers = Timers::start("timer-test".into()).unwrap();
        let (fired, order) = std::sync::mpsc::channel();
        let late = fired.clone();
        timers.add(
            Duration::from_secs(3600),
            Box::new(move |fire| {
                let _ = late.send((1, fire));
            }),
        );
        timers.add(
            Duration::from_millis(1),
            Box::new(move |fire| {
                let _ = fired.send((0, fire));
            }),
        );
        assert_eq!(
            order.recv().unwrap(),
            (0, true),
            "the thread woke for the earlier one"
        );
        timers.stop();
        assert_eq!(order.recv().unwrap(), (1, false));
    }
}
