//! The bell: one word of shared memory per child process, on which the child sleeps (a futex)
//! when it has run out of work, and which whoever gives it work rings. A ring costs a load from
//! shared memory while the child is awake, and one `futex` wake (no IPC message, no thread of
//! the host's to wake) while it sleeps.
//!
//! ```text
//! offset 0   sleeping   1 while the child sleeps, or is about to; 0 once it is awake or rung
//! ```
//!
//! The word is its own futex: the child waits on it while it reads 1, and the one who rings
//! swaps it to 0 first, so of all who find it asleep exactly one wakes it. The child says it
//! sleeps, then looks for work once more, then waits; whoever gives work publishes it, then
//! looks at the bell: both with sequentially consistent operations, so either the child sees
//! the work or the giver sees it asleep, never neither. A child that writes nonsense here
//! costs whoever rings a wasted `futex` call at most.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use ipc_channel::ipc::IpcSharedMemory;
use rustix::thread::futex;

use crate::mapping::Mapping;

const SLEEPING: usize = 0;
const LEN: usize = 64;

/// A new bell, for one child process (the host keeps it and sends the child a copy).
pub(crate) fn create() -> IpcSharedMemory {
    IpcSharedMemory::from_byte(0, LEN)
}

/// One side's hold on a child's bell.
pub(crate) struct Bell(Mapping);

impl Bell {
    /// Takes a copy of a bell made by [`create`]. `None` if it is too small to be one.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        Mapping::new(memory, LEN, LEN).map(Self)
    }

    /// Wakes the child if it sleeps. Call it after the work is published with a `SeqCst`
    /// store (or read-modify-write). `true` if this call woke it.
    pub fn ring(&self) -> bool {
        let sleeping = self.0.half_word(SLEEPING);
        if sleeping.load(SeqCst) == 1 && sleeping.swap(0, SeqCst) == 1 {
            // Shared, not private: the waiter is another process. An error (the memory is
            // gone, it cannot be) leaves the child to wake at its timeout.
            let _ = futex::wake(sleeping, futex::Flags::empty(), 1);
            return true;
        }
        false
    }

    /// The child's side: sleeps until rung, or for `timeout` at most, unless `has_work`
    /// (checked after saying it sleeps, with `SeqCst` loads) finds work already.
    pub fn sleep(&self, has_work: impl Fn() -> bool, timeout: Duration) {
        let sleeping = self.0.half_word(SLEEPING);
        sleeping.store(1, SeqCst);
        if !has_work() {
            let timeout = futex::Timespec {
                tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(timeout.subsec_nanos()),
            };
            // Returns when rung (the word is 0: at once if it already was), at the timeout, or
            // on a signal; the caller looks for work whichever it was.
            let _ = futex::wait(sleeping, futex::Flags::empty(), 1, Some(&timeout));
        }
        sleeping.store(0, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Bell, Bell) {
        let memory = create();
        let host = Bell::new(memory.clone()).expect("a bell");
        (host, Bell::new(memory).expect("a bell"))
    }

    #[test]
    fn an_awake_child_is_not_rung() {
        let (host, _child) = pair();
        assert!(!host.ring());
    }

    #[test]
    fn work_found_after_saying_it_sleeps_means_no_sleep() {
        let (host, child) = pair();
        let since = std::time::Instant::now();
        child.sleep(|| true, Duration::from_secs(10));
        assert!(since.elapsed() < Duration::from_secs(5));
        assert!(!host.ring(), "awake again");
    }

    #[test]
    fn a_sleeping_child_is_woken_once() {
        let (host, child) = pair();
        let sleeper = std::thread::spawn(move || {
            let since = std::time::Instant::now();
            child.sleep(|| false, Duration::from_secs(10));
            since.elapsed()
        });
        while host.0.half_word(SLEEPING).load(SeqCst) == 0 {
            std::thread::yield_now();
        }
        assert!(host.ring(), "asleep: rung");
        assert!(!host.ring(), "rung already");
        let slept = sleeper.join().expect("the sleeper");
        assert!(
            slept < Duration::from_secs(5),
            "woken, not timed out: {slept:?}"
        );
        assert!(!host.ring(), "awake: no ring");
    }

    #[test]
    fn a_sleep_ends_at_its_timeout() {
        let (_host, child) = pair();
        let since = std::time::Instant::now();
        child.sleep(|| false, Duration::from_millis(20));
        assert!(since.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_memory_too_small_is_refused() {
        assert!(Bell::new(IpcSharedMemory::from_byte(0, 8)).is_none());
    }
}
