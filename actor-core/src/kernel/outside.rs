//! An ask from outside any actor: the caller blocks (within its timeout) for the outcome that
//! the backend sends it from wherever the ask ends.
//!
//! The race this closes: the timeout can expire while the outcome is being delivered. The
//! caller then tries to take its ask out of the table; if it cannot, the outcome is on its way
//! and is waited for, so it is neither lost nor counted late.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use crate::error::AskError;
use crate::kernel::asks::Outcome;

/// The caller's end of an outside ask. [`OutsideAsk::new`] gives the other end, which the
/// backend keeps in its ask table as the waiter and sends the outcome on (once: it never
/// blocks).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::AskError;
/// use actor_core::kernel::OutsideAsk;
/// let (tell, ask) = OutsideAsk::<u32>::new();
/// tell.send(Ok(5)).unwrap();
/// assert_eq!(ask.wait(Duration::from_secs(1), || true), Ok(5));
///
/// let (_tell, ask) = OutsideAsk::<u32>::new();
/// let gave_up = ask.wait(Duration::from_millis(1), || true);  // it was still in the table
/// assert_eq!(gave_up, Err(AskError::Timeout(Duration::from_millis(1))));
/// ```
pub struct OutsideAsk<R> {
    outcome: Receiver<Outcome<R>>,
}

impl<R> OutsideAsk<R> {
    /// A new ask: the sender to keep as its waiter, and the caller's end.
    pub fn new() -> (SyncSender<Outcome<R>>, Self) {
        let (tell, outcome) = sync_channel(1);
        (tell, Self { outcome })
    }

    /// Waits up to `timeout` for the outcome. Past it, `take_back` is called to take the ask
    /// out of the table: `true` (it was still there) ends the wait with a timeout; `false`
    /// means the outcome is being delivered, and it is waited for.
    ///
    /// # Errors
    /// The outcome's error, or [`AskError::Timeout`].
    pub fn wait(self, timeout: Duration, take_back: impl FnOnce() -> bool) -> Outcome<R> {
        match self.outcome.recv_timeout(timeout) {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) if take_back() => Err(AskError::Timeout(timeout)),
            // Being delivered right now (or its waiter dropped with the system).
            Err(_) => self
                .outcome
                .recv()
                .unwrap_or(Err(AskError::Timeout(timeout))),
        }
    }
}
