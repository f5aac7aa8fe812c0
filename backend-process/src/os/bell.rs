//! The bell: one word of shared memory per child process, on which the child sleeps (a futex)
//! when it has run out of work, and which whoever gives it work rings. A ring costs a load from
//! shared memory while the child is awake, and one `futex` wake (no IPC message, no thread of
//! the host's to wake) while it sleeps.
//!
//! ```text
//! offset 0   sleeping   1 while the child sleeps, or is about to; 0 once it is awake or rung
//!        8   light      1 if the host publishes its deliveries with a release store alone
//!                       (see below): written by the host at each boot of a process, before
//!                       the boot message, so what a dead process left here does not count
//! ```
//!
//! The word is its own futex: the child waits on it while it reads 1, and the one who rings
//! swaps it to 0 first, so of all who find it asleep exactly one wakes it. The child says it
//! sleeps, then looks for work once more, then waits; whoever gives work publishes it, then
//! looks at the bell: both with sequentially consistent operations, so either the child sees
//! the work or the giver sees it asleep, never neither. A child that writes nonsense here
//! costs whoever rings a wasted `futex` call at most, and itself missed rings.
//!
//! The fence that makes this hold costs the giver a drain of its store buffer on every
//! delivery: on x86 a sequentially consistent store is an `xchg`, and it was four fifths of
//! what the host spent writing a record to the ring (`perf annotate`). So the host, the giver
//! of nearly all work, splits the fence (see [`publish_ordering`]): it publishes with a plain
//! release store, and the child, after saying it sleeps and before it looks for work once
//! more, asks the kernel for a barrier on every CPU that runs a host thread
//! (`membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`). Either the host's look at the bell came
//! after that barrier, and sees the child asleep, or its store came before it, and the child
//! sees the work. In a stream the child looks for work for a while before it sleeps
//! (`child/io.rs`), so the system call is off the stream's path; a child that has just sent
//! an ask's request through the host sleeps at once, and pays it (about a microsecond, beside
//! the tens a wake-up across CPUs costs here) on each such wait. Where the kernel has no
//! such barrier the host publishes with `SeqCst` as before; should the child's barrier ever
//! fail, it sleeps a millisecond at most, so a missed ring costs a millisecond, not a stall.
//! Direct routes between children publish with a read-modify-write, a full fence on its own.

use std::sync::OnceLock;
use std::sync::atomic::Ordering::{self, Relaxed, Release, SeqCst};
use std::time::Duration;

use ipc_channel::ipc::IpcSharedMemory;
use rustix::thread::{MembarrierCommand, futex, membarrier, membarrier_query};

use crate::os::mapping::Mapping;

const SLEEPING: usize = 0;
const LIGHT: usize = 8;
const LEN: usize = 64;

/// The longest sleep of a child whose barrier failed while the host publishes lightly: what a
/// ring it missed can cost.
const UNFENCED_SLEEP: Duration = Duration::from_millis(1);

/// A new bell, for one child process (the host keeps it and sends the child a copy).
pub(crate) fn create() -> IpcSharedMemory {
    IpcSharedMemory::from_byte(0, LEN)
}

/// How the host publishes the work it then rings for: `Release` if this process has
/// registered for the child's barrier (once, at the first call), else `SeqCst`. The host
/// must keep the compiler from moving the bell's look before that store
/// (`compiler_fence(SeqCst)`); the child's barrier does the rest. [`Bell::for_host`] tells
/// the child which it is.
pub(crate) fn publish_ordering() -> Ordering {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        membarrier_query().contains_command(MembarrierCommand::GlobalExpedited)
            && membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
    });
    if registered { Release } else { SeqCst }
}

/// One side's hold on a child's bell.
pub(crate) struct Bell {
    mapping: Mapping,
    /// The host publishes lightly: the child must fence before it looks for work.
    light: bool,
}

impl Bell {
    /// The host's copy of a bell made by [`create`], for a process about to be booted: says
    /// in the bell how the host publishes ([`publish_ordering`]), for that process to read at
    /// its boot. `None` if it is too small to be one.
    pub fn for_host(memory: IpcSharedMemory) -> Option<Self> {
        let light = publish_ordering() == Release;
        let mapping = Mapping::new(memory, LEN, LEN)?;
        mapping.word(LIGHT).store(u64::from(light), Relaxed);
        Some(Self { mapping, light })
    }

    /// Takes a copy of a bell made by [`create`]. `None` if it is too small to be one.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        let mapping = Mapping::new(memory, LEN, LEN)?;
        // Written before the boot message that handed the memory to this process, which
        // orders it before this load.
        let light = mapping.word(LIGHT).load(Relaxed) != 0;
        Some(Self { mapping, light })
    }

    /// Wakes the child if it sleeps. Call it after the work is published with a `SeqCst`
    /// store (or read-modify-write), or, from the host, with [`publish_ordering`] followed by
    /// a `compiler_fence(SeqCst)`. `true` if this call woke it.
    pub fn ring(&self) -> bool {
        let sleeping = self.mapping.half_word(SLEEPING);
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
        let sleeping = self.mapping.half_word(SLEEPING);
        sleeping.store(1, SeqCst);
        let mut timeout = timeout;
        if self.light && membarrier(MembarrierCommand::GlobalExpedited).is_err() {
            timeout = timeout.min(UNFENCED_SLEEP);
        }
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
        while host.mapping.half_word(SLEEPING).load(SeqCst) == 0 {
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

    /// The race the fence is for, run many times: the host publishes a record just as the
    /// child says it sleeps (both start at a signal, the host a little later each round, so
    /// its store and look sweep across the child's). A ring missed would leave the child
    /// asleep until its timeout with the record waiting.
    #[test]
    fn a_record_published_as_the_child_falls_asleep_always_wakes_it() {
        use std::sync::atomic::AtomicU32;
        const ROUNDS: u32 = 20_000;
        let memory = create();
        let host = Bell::for_host(memory.clone()).expect("a bell");
        let child = Bell::new(memory).expect("a bell");
        assert_eq!(
            child.light, host.light,
            "the child reads what the host wrote"
        );
        let memory = crate::os::ring::create();
        let mut producer = crate::os::ring::Producer::new(memory.clone()).expect("a ring");
        let mut consumer = crate::os::ring::Consumer::new(memory).expect("a ring");
        let go = std::sync::Arc::new(AtomicU32::new(u32::MAX));
        let timeout = Duration::from_secs(1);
        let sleeper = std::thread::spawn({
            let go = std::sync::Arc::clone(&go);
            move || {
                let (mut taken, mut missed) = (Vec::new(), 0);
                for round in 0..ROUNDS {
                    while go.load(SeqCst) != round {
                        std::hint::spin_loop();
                    }
                    let since = std::time::Instant::now();
                    child.sleep(|| consumer.has_records(), timeout);
                    missed += usize::from(since.elapsed() >= timeout);
                    while !consumer.take(&mut taken, false) {
                        std::hint::spin_loop();
                    }
                }
                (taken, missed)
            }
        });
        for round in 0..ROUNDS {
            go.store(round, SeqCst);
            for _ in 0..round % 97 {
                std::hint::spin_loop();
            }
            producer
                .push(&[round as u8])
                .expect("room: one record at a time");
            host.ring();
            while producer.has_unread() {
                std::hint::spin_loop();
            }
        }
        let (taken, missed) = sleeper.join().expect("the sleeper");
        assert_eq!(missed, 0, "sleeps that ran to their timeout");
        let expected: Vec<u8> = (0..ROUNDS).map(|round| round as u8).collect();
        assert!(taken == expected);
    }

    #[test]
    fn each_boot_says_afresh_how_the_host_publishes() {
        let memory = create();
        let scribbler = Bell::new(memory.clone()).expect("a bell");
        // A dead process left the word wrong; the host's next boot writes it again.
        let wrong = u64::from(publish_ordering() != Release);
        scribbler.mapping.word(LIGHT).store(wrong, Relaxed);
        let host = Bell::for_host(memory.clone()).expect("a bell");
        let next = Bell::new(memory).expect("a bell");
        assert_eq!(next.light, publish_ordering() == Release);
        assert_eq!(next.light, host.light);
    }

    #[test]
    fn a_memory_too_small_is_refused() {
        assert!(Bell::new(IpcSharedMemory::from_byte(0, 8)).is_none());
    }
}
