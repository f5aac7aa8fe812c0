//! The ask table: every ask waiting for its one outcome, and the count of late replies.
//!
//! An ask ends once: with its reply, or with the reason there is none (a timeout, its receiver
//! stopped or failed, its request refused). Whichever comes first takes the ask out of the
//! table; what comes after finds nothing and, if it is a reply, is counted late (rule 5: a late
//! reply is dropped and counted, never delivered). The ask's timeout timer is kept with it, so
//! that whoever ends the ask also cancels the timer: memory does not grow with ask rate ×
//! timeout.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;

use crate::error::AskError;

/// An ask's outcome: the reply (type-erased, or encoded, until the asker reads it as its type),
/// or why there is none.
pub type Outcome<R = Box<dyn Any + Send>> = Result<R, AskError>;

/// Reads a type-erased reply as the type the asker expects.
///
/// # Errors
/// [`AskError::BadReply`] if the reply is of another type.
///
/// # Example
/// ```
/// use actor_core::kernel::take_reply;
/// assert_eq!(take_reply::<u32>(Box::new(7u32)), Ok(7));
/// assert!(take_reply::<u32>(Box::new("seven")).is_err());
/// ```
pub fn take_reply<R: 'static>(reply: Box<dyn Any + Send>) -> Result<R, AskError> {
    reply
        .downcast::<R>()
        .map(|r| *r)
        .map_err(|_| AskError::BadReply(format!("expected {}", std::any::type_name::<R>())))
}

struct Waiting<W, T> {
    waiter: W,
    timer: Option<T>,
}

/// The asks waiting for their outcome, keyed by `K` (a request number, or an asker and its
/// request number where askers number their own), each with its waiter `W` (who is told the
/// outcome) and its timeout timer `T` (what cancels it).
///
/// # Example
/// ```
/// use actor_core::kernel::AskTable;
/// let mut asks: AskTable<u64, &str, u32> = AskTable::new();
/// let request = asks.fresh_request();
/// asks.open(request, "the caller");
/// assert_eq!(asks.set_timer(&request, 99), Ok(()));
/// // The reply ends the ask and hands back its timer, to be cancelled.
/// assert_eq!(asks.complete(&request, true), Some(("the caller", Some(99))));
/// // A second reply is late.
/// assert_eq!(asks.complete(&request, true), None);
/// assert_eq!(asks.late_replies(), 1);
/// ```
pub struct AskTable<K, W, T> {
    waiting: HashMap<K, Waiting<W, T>>,
    next_request: u64,
    late_replies: u64,
}

impl<K, W, T> Default for AskTable<K, W, T> {
    fn default() -> Self {
        Self {
            waiting: HashMap::new(),
            next_request: 1,
            late_replies: 0,
        }
    }
}

impl<K: Hash + Eq, W, T> AskTable<K, W, T> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A request number not given out before by this table, from 1 (so a backend may keep one
    /// in a `NonZeroU64`).
    pub fn fresh_request(&mut self) -> u64 {
        let request = self.next_request;
        self.next_request += 1;
        request
    }

    /// Registers an ask waiting under `key`, with no timer yet.
    pub fn open(&mut self, key: K, waiter: W) {
        self.waiting.insert(
            key,
            Waiting {
                waiter,
                timer: None,
            },
        );
    }

    /// Gives the ask under `key` its timeout timer, to be handed back when the ask ends.
    ///
    /// # Errors
    /// The timer, if the ask has already ended (its outcome came before its timer was set):
    /// the caller cancels it.
    pub fn set_timer(&mut self, key: &K, timer: T) -> Result<(), T> {
        match self.waiting.get_mut(key) {
            Some(waiting) => {
                waiting.timer = Some(timer);
                Ok(())
            }
            None => Err(timer),
        }
    }

    /// Ends the ask under `key` with an outcome (`is_reply`: a reply, not a reason there is
    /// none): its waiter, to be told, and its timer, to be cancelled. `None` if it has ended
    /// already; a reply is then counted late, a second notice of failure is not.
    pub fn complete(&mut self, key: &K, is_reply: bool) -> Option<(W, Option<T>)> {
        match self.waiting.remove(key) {
            Some(waiting) => Some((waiting.waiter, waiting.timer)),
            None => {
                if is_reply {
                    self.late_replies += 1;
                }
                None
            }
        }
    }

    /// Takes the ask under `key` out without an outcome (its request was refused, or its waiter
    /// gave up): its waiter and timer, if it was still waiting.
    pub fn cancel(&mut self, key: &K) -> Option<(W, Option<T>)> {
        self.waiting
            .remove(key)
            .map(|waiting| (waiting.waiter, waiting.timer))
    }

    /// Whether the ask under `key` still waits.
    pub fn is_waiting(&self, key: &K) -> bool {
        self.waiting.contains_key(key)
    }

    /// How many asks wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no ask waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Counts a reply that found its ask ended elsewhere (its asker gone by the time it came).
    pub fn count_late(&mut self) {
        self.late_replies += 1;
    }

    /// Replies that came after their ask had ended.
    pub fn late_replies(&self) -> u64 {
        self.late_replies
    }

    /// Forgets every ask still waiting (shutdown: their askers are gone), and returns their
    /// timers.
    pub fn clear(&mut self) -> Vec<T> {
        self.waiting
            .drain()
            .filter_map(|(_, waiting)| waiting.timer)
            .collect()
    }
}
