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
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `action(true)` after `delay`, or `action(false)` at shutdown if it is not due by
    /// then. After shutdown it is cancelled at once.
    pub fn add(&self, delay: Duration, action: Action) {
        // `Duration::MAX` (no timeout) must not overflow the clock.
        let due = actor_core::deadline_after(delay);
        if let Err(err) = self.commands.send(Command::Add(due, action))
            && let Command::Add(_, action) = err.into_inner()
        {
            action(false);
        }
    }

    /// Cancels every pending timer (each action runs with `false`) and joins the thread.
    pub fn stop(&self) {
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
                // Timers added after the stop are cancelled as they arrive.
                while let Ok(Command::Add(_, action)) = inbox.try_recv() {
                    action(false);
                }
                return;
            }
        }
    }
}
