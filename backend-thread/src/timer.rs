//! One timer thread per system: delayed sends and `ask` timeouts, on wall time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};

/// What a timer does: called with `true` when it fires, `false` when shutdown cancels it.
pub(crate) type Action = Box<dyn FnOnce(bool) + Send>;

enum Command {
    Add(Instant, Action),
    Stop,
}

pub(crate) struct Timers {
    commands: Sender<Command>,
    /// Set by [`Timers::stop`]; a timer is sent to the thread under this lock, so none can
    /// reach it after its last look at its inbox and be dropped there without being run.
    stopped: Mutex<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Timers {
    pub fn start(name: String) -> std::io::Result<Self> {
        let (commands, inbox) = unbounded();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&inbox))?;
        Ok(Self {
            commands,
            stopped: Mutex::new(false),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `action(true)` after `delay`, or `action(false)` at shutdown if it is not due by
    /// then. After shutdown it is cancelled at once.
    pub fn add(&self, delay: Duration, action: Action) {
        // `Duration::MAX` (no timeout) must not overflow the clock.
        let due = actor_core::deadline_after(delay);
        let refused = {
            let stopped = crate::cell::lock(&self.stopped);
            if *stopped {
                Some(action)
            } else {
                match self.commands.send(Command::Add(due, action)) {
                    Ok(()) => None,
                    Err(err) => match err.into_inner() {
                        Command::Add(_, action) => Some(action),
                        Command::Stop => None,
                    },
                }
            }
        };
        // Outside the lock: the action delivers a dead letter, which takes other locks.
        if let Some(action) = refused {
            action(false);
        }
    }

    /// Cancels every pending timer (each action runs with `false`) and joins the thread. A
    /// timer added from now on is cancelled at once, by its adder.
    pub fn stop(&self) {
        *crate::cell::lock(&self.stopped) = true;
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = crate::cell::lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

fn run(inbox: &Receiver<Command>) {
    let mut due: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut actions: std::collections::HashMap<u64, Action> = std::collections::HashMap::new();
    let mut next = 0u64;
    loop {
        let command = match due.peek() {
            Some(Reverse((at, _))) => inbox.recv_deadline(*at),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match command {
            Ok(Command::Add(at, action)) => {
                due.push(Reverse((at, next)));
                actions.insert(next, action);
                next += 1;
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                while let Some(Reverse((at, key))) = due.peek().copied() {
                    if at > now {
                        break;
                    }
                    due.pop();
                    if let Some(action) = actions.remove(&key) {
                        action(true);
                    }
                }
            }
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => {
                let mut pending: Vec<_> = due.into_sorted_vec();
                pending.reverse();
                for Reverse((_, key)) in pending {
                    if let Some(action) = actions.remove(&key) {
                        action(false);
                    }
                }
                // Nothing follows the stop order: `add` sends nothing once `stopped` is set,
                // which `stop` does before it sends the order.
                return;
            }
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
            let timers = Arc::new(Timers::start("timer-test".into()).unwrap());
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
}
