//! [`RunnerOnly`]: state that only the thread running an actor touches, with no lock.

/// A value only the thread holding an actor's schedule touches: the actor's state, its taken
/// messages, the message handed over with the schedule (`mailbox/mod.rs`). The schedule flag
/// (under the mailbox lock) already guarantees one runner at a time, so a lock here only cost
/// two more atomic read-modify-writes a message (measured: a quarter of the atomics on the
/// ping-pong path); the mailbox lock the runner takes to claim, fetch and release orders one
/// runner's writes before the next one's reads.
pub(crate) struct RunnerOnly<T>(std::cell::UnsafeCell<T>);

// SAFETY: the value moves between threads only with the schedule, handed over under the
// mailbox lock (a release-acquire pair), and `get` is only called by the schedule's holder.
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for RunnerOnly<T> {}

impl<T> RunnerOnly<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// # Safety
    /// The caller holds the actor's schedule, and no other reference from `get` is in use.
    #[allow(unsafe_code, clippy::mut_from_ref)]
    pub(crate) unsafe fn get(&self) -> &mut T {
        // SAFETY: exclusive by the caller's contract.
        unsafe { &mut *self.0.get() }
    }
}
