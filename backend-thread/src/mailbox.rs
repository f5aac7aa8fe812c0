//! One actor's queues and its ledger, shared by every thread that sends to it.
//!
//! The ledger is also what makes a stop safe against racing sends. `state` holds the accepted
//! count and a `CLOSED` bit in one word: a sender adds one, and if the word it added to was not
//! closed, its message is accepted and it must enqueue it; otherwise it takes its one back and
//! gets its message back. The actor, when it stops, sets `CLOSED` and then drains until
//! `handled + dead_letters` reaches the accepted count, so a message accepted just before the
//! close, and still on its way into the queue, is waited for and dead-lettered, never lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

use actor_core::{Ledger, SendFailure, Signal};
use crossbeam_queue::{ArrayQueue, SegQueue};
use crossbeam_utils::CachePadded;

const CLOSED: u64 = 1 << 63;

/// A message and, if it is an `ask`, its request number (so the asker hears of a failure).
pub(crate) struct Envelope<M> {
    pub msg: M,
    pub request: Option<u64>,
}

/// What arrives on the system queue, which is handled before any message.
pub(crate) enum SysMsg<M> {
    /// A message that may not be refused for a full mailbox: a fired timer, an ask's outcome.
    Deliver(Envelope<M>),
    /// An ask's outcome, still to be turned into a message by the asker's `on_reply`: that
    /// closure is the asking actor's code, so it runs in the asker's own run loop, under its
    /// `catch_unwind`, not on whatever thread completed the ask.
    Outcome(Box<dyn FnOnce() -> M + Send>),
    Signal(Signal),
    /// Stop now (shutdown): finish nothing more, dead-letter the rest.
    Shutdown,
}

enum Queue<T> {
    Bounded(ArrayQueue<T>),
    Unbounded(SegQueue<T>),
}

/// The queues, the ledger and the scheduling flag of one actor. Senders write `state`, the
/// actor writes `handled` and `dead_letters`: each on its own cache line, so that a stream of
/// sends and the handling of them do not bounce one line between cores.
pub(crate) struct Mailbox<M> {
    queue: Queue<Envelope<M>>,
    sys: SegQueue<SysMsg<M>>,
    /// `CLOSED` and the number of accepted messages.
    state: CachePadded<AtomicU64>,
    handled: CachePadded<AtomicU64>,
    dead_letters: AtomicU64,
    /// Set while the actor is scheduled to run or running: it runs on one thread at a time.
    pub scheduled: CachePadded<AtomicBool>,
}

/// Why a message did not get into the mailbox, with the message.
pub(crate) struct Refused<M>(pub SendFailure, pub Envelope<M>);

impl<M> Mailbox<M> {
    pub fn new(capacity: Option<usize>) -> Self {
        let queue = match capacity {
            Some(capacity) => Queue::Bounded(ArrayQueue::new(capacity)),
            None => Queue::Unbounded(SegQueue::new()),
        };
        Self {
            queue,
            sys: SegQueue::new(),
            state: CachePadded::new(AtomicU64::new(0)),
            handled: CachePadded::new(AtomicU64::new(0)),
            dead_letters: AtomicU64::new(0),
            scheduled: CachePadded::new(AtomicBool::new(false)),
        }
    }

    /// Accepts a message into the queue, or gives it back (mailbox closed or full).
    pub fn push(&self, env: Envelope<M>) -> Result<(), Refused<M>> {
        if self.state.fetch_add(1, SeqCst) & CLOSED != 0 {
            self.state.fetch_sub(1, SeqCst);
            return Err(Refused(SendFailure::Stopped, env));
        }
        match &self.queue {
            Queue::Unbounded(queue) => {
                queue.push(env);
                Ok(())
            }
            Queue::Bounded(queue) => queue.push(env).map_err(|env| {
                self.state.fetch_sub(1, SeqCst);
                Refused(
                    SendFailure::Full {
                        capacity: queue.capacity(),
                    },
                    env,
                )
            }),
        }
    }

    /// Accepts a message that may not be refused (a fired timer, an ask's outcome) onto the
    /// system queue. If the mailbox is closed it is accepted and dead at once: it is given back
    /// for the dead-letter record.
    pub fn push_forced(&self, env: Envelope<M>) -> Result<(), Envelope<M>> {
        if self.state.fetch_add(1, SeqCst) & CLOSED != 0 {
            self.dead_letters.fetch_add(1, SeqCst);
            return Err(env);
        }
        self.sys.push(SysMsg::Deliver(env));
        Ok(())
    }

    /// Accepts an ask's outcome (which may not be refused for a full mailbox) onto the system
    /// queue; `false` if the mailbox is closed, in which case it is counted accepted and dead.
    pub fn push_outcome(&self, make: Box<dyn FnOnce() -> M + Send>) -> bool {
        if self.state.fetch_add(1, SeqCst) & CLOSED != 0 {
            self.dead_letters.fetch_add(1, SeqCst);
            return false;
        }
        self.sys.push(SysMsg::Outcome(make));
        true
    }

    /// Queues a signal or a shutdown order (not part of the ledger).
    pub fn push_sys(&self, msg: SysMsg<M>) {
        self.sys.push(msg);
    }

    pub fn pop(&self) -> Option<Envelope<M>> {
        match &self.queue {
            Queue::Bounded(queue) => queue.pop(),
            Queue::Unbounded(queue) => queue.pop(),
        }
    }

    pub fn pop_sys(&self) -> Option<SysMsg<M>> {
        // Checked first: an emptiness check is two loads, a pop on an empty queue much more,
        // and the system queue is almost always empty.
        if self.sys.is_empty() {
            None
        } else {
            self.sys.pop()
        }
    }

    pub fn has_work(&self) -> bool {
        !self.sys.is_empty()
            || match &self.queue {
                Queue::Bounded(queue) => !queue.is_empty(),
                Queue::Unbounded(queue) => !queue.is_empty(),
            }
    }

    pub fn is_closed(&self) -> bool {
        self.state.load(SeqCst) & CLOSED != 0
    }

    pub fn count_handled(&self) {
        // Only the thread running the actor writes it: no read-modify-write needed.
        self.handled.store(self.handled.load(Relaxed) + 1, SeqCst);
    }

    pub fn count_dead(&self) {
        self.dead_letters.fetch_add(1, SeqCst);
    }

    /// Refuses every later send, then hands each message still accepted to `dead` (the ones on
    /// their way in included, see the module doc). Called only by the thread running the actor.
    pub fn close_and_drain(&self, mut dead: impl FnMut(Envelope<M>)) {
        self.state.fetch_or(CLOSED, SeqCst);
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            while let Some(env) = self.pop() {
                self.count_dead();
                dead(env);
            }
            while let Some(sys) = self.sys.pop() {
                match sys {
                    SysMsg::Deliver(env) => {
                        self.count_dead();
                        dead(env);
                    }
                    // The outcome's message was never made: counted, nothing to keep.
                    SysMsg::Outcome(_) => self.count_dead(),
                    SysMsg::Signal(_) | SysMsg::Shutdown => {}
                }
            }
            let ledger = self.ledger();
            if ledger.handled + ledger.dead_letters >= ledger.accepted {
                return;
            }
            // A sender has counted its message but not yet enqueued it.
            backoff.snooze();
        }
    }

    pub fn ledger(&self) -> Ledger {
        // Read the outcomes first: a message is counted accepted before it can be handled.
        let handled = self.handled.load(SeqCst);
        let dead_letters = self.dead_letters.load(SeqCst);
        Ledger {
            accepted: self.state.load(SeqCst) & !CLOSED,
            handled,
            dead_letters,
        }
    }
}
