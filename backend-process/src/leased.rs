//! [`LeasedMutex`]: the host's lock, lent to the thread that takes it again and again.
//!
//! Every send from outside takes the host's lock, and a mutex costs two locked instructions
//! (one to take it, one to give it back), each a full fence that waits for the sender's
//! stores to reach the cache: on the one-way stream the two came to about a quarter of the
//! sending thread's time (`perf annotate`: two fifths of `ProcessSystem::send` on the
//! release's `xchg`, and `host::lock` beside it). A stream is one thread taking the lock
//! thousands of times while the router takes it once in a while, so the lock is leased: a thread
//! that has taken it [`LEASE_AFTER`] times in a row, no other thread between, holds a lease,
//! and while it does it takes the lock with plain stores and loads.
//!
//! The lessee enters by saying it is inside (a store to a flag of its own), then looking at
//! the lease (a load), with no fence between: the fence is paid by whoever recalls the lease,
//! which takes the lock the usual way, withdraws the lease (a store), asks the kernel for a
//! barrier on every CPU that runs a thread of this process
//! (`membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`), then waits while the lessee says it is
//! inside. Either the lessee's store came before that barrier, and the recaller sees it inside
//! and waits for it to leave, or its load came after, and it sees the lease withdrawn and
//! takes the lock the usual way. A lessee recalled while inside wakes the recaller as it
//! leaves (a futex on its flag).
//!
//! A recall costs some 15 µs here (the barrier interrupts the other CPU; 0.1 µs with no other
//! thread running), once per report of progress on a stream (every 16,384 messages, which is
//! why reports are that far apart: every 4,096, the recalls cost all the lease saved). One-way
//! ran 54.1 ns a message on the lease against 60.4 without (`process_profile one-way
//! 10000000`, medians of five, alternated). Threads that take turns at the lock never hold a
//! lease, and pay nothing more than a mutex. Where the kernel has no such barrier, no lease is
//! ever given. Registering for the barrier takes the kernel some 16 ms (a grace period), so it
//! is done when the lock is made, not on a stream's first lease.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed};
use std::sync::atomic::{Ordering::Release, Ordering::SeqCst, compiler_fence};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rustix::thread::{MembarrierCommand, futex, membarrier, membarrier_query};

/// Takes of the lock in a row by one thread, no other thread's between them, after which that
/// thread is given the lease. A thousand sends cost about 15 µs of locked instructions, more
/// than a recall; threads that take turns never reach it.
pub(crate) const LEASE_AFTER: u32 = 1024;

/// A thread, as the lock knows it: a number, and how many leased locks it is inside (a count,
/// not a flag, so that leaving one lock does not say it has left another it holds). Only the
/// thread itself writes it.
struct Thread {
    id: u64,
    inside: AtomicU32,
}

thread_local! {
    static THREAD: Arc<Thread> = Arc::new(Thread {
        id: next_thread_id(),
        inside: AtomicU32::new(0),
    });
}

impl Thread {
    /// Leaves a lock entered on its lease, whose lease is then read by `lease` (called after
    /// the count is stored). A recaller waits on the count once its barrier has run: either
    /// the store came before the barrier (the recaller sees it and does not wait) or the read
    /// of the lease comes after (and sees it withdrawn, and wakes the recaller).
    fn leave(&self, lease: impl FnOnce() -> u64) {
        let depth = self.inside.load(Relaxed);
        // Release: the next holder sees what was written inside.
        self.inside.store(depth.saturating_sub(1), Release);
        compiler_fence(SeqCst);
        if lease() != self.id {
            let _ = futex::wake(&self.inside, futex::Flags::PRIVATE, 1);
        }
    }
}

fn next_thread_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

/// Whether this process can fence every CPU that runs one of its threads, registered once.
fn can_recall() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        membarrier_query().contains_command(MembarrierCommand::PrivateExpedited)
            && membarrier(MembarrierCommand::RegisterPrivateExpedited).is_ok()
    })
}

/// What the usual lock guards besides the data: who holds the lease, and who has been taking
/// the lock.
#[derive(Default)]
struct Lending {
    lessee: Option<Arc<Thread>>,
    /// The thread that took the lock last, and how many times in a row.
    streak: (u64, u32),
}

/// A mutual-exclusion lock whose frequent taker holds a lease (see the module's doc). Like
/// the host's `Mutex` before it, it is not poisoned by a panic.
pub(crate) struct LeasedMutex<T> {
    lending: Mutex<Lending>,
    /// The lessee's number, or 0.
    lease: AtomicU64,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a `Guard`, and a guard exists for one thread at a
// time: one that holds `lending`'s lock, or the lessee inside on its lease, and a lease is
// recalled (the lessee seen outside, and unable to enter again) before the lock's holder
// gets its guard. So `T` is only ever sent between threads, never shared.
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for LeasedMutex<T> {}

impl<T> LeasedMutex<T> {
    pub fn new(data: T) -> Self {
        // Registered now, not on the first lease: it can take milliseconds (the kernel waits
        // for a grace period).
        can_recall();
        Self {
            lending: Mutex::default(),
            lease: AtomicU64::new(0),
            data: UnsafeCell::new(data),
        }
    }

    /// Takes the lock: on the lease if this thread holds it, else the usual way (recalling the
    /// lease from whoever holds it).
    pub fn lock(&self) -> Guard<'_, T> {
        let leased = THREAD
            .try_with(|me| {
                if self.lease.load(Relaxed) != me.id {
                    return false;
                }
                let depth = me.inside.load(Relaxed);
                me.inside.store(depth + 1, Relaxed);
                // The recaller's barrier orders this store before the load below.
                compiler_fence(SeqCst);
                if self.lease.load(Relaxed) == me.id {
                    return true;
                }
                // Recalled between the two looks: the recaller may have seen this thread
                // inside, and waits for it to leave.
                me.leave(|| self.lease.load(Relaxed));
                false
            })
            .unwrap_or(false);
        if leased {
            return Guard {
                lock: self,
                lending: None,
                not_send: PhantomData,
            };
        }
        let mut lending = self
            .lending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let me = THREAD.try_with(|me| me.id).unwrap_or(0);
        if let Some(lessee) = lending.lessee.take() {
            self.lease.store(0, Relaxed);
            // This thread, were it the lessee, is not inside: it is here.
            if lessee.id != me {
                recall(&lessee);
            }
        }
        lending.streak = match lending.streak {
            (id, count) if id == me => (id, count.saturating_add(1)),
            _ => (me, 1),
        };
        Guard {
            lock: self,
            lending: Some(lending),
            not_send: PhantomData,
        }
    }
}

/// Waits until `lessee`, its lease withdrawn, is outside and cannot enter again.
fn recall(lessee: &Thread) {
    // A lease is only given where the barrier was registered; should it fail all the same,
    // a full fence here does not make the lessee's store visible, so the wait below would not
    // be enough: give up the process rather than share the data.
    if membarrier(MembarrierCommand::PrivateExpedited).is_err() {
        std::process::abort();
    }
    // Acquire: what the lessee wrote inside is seen once it is seen outside. The lessee,
    // leaving, looks at the lease and wakes this thread if it finds it withdrawn (`Guard`'s
    // drop): its store of the count either came before the barrier (and `wait` sees it) or
    // its look at the lease comes after (and sees it withdrawn).
    loop {
        let depth = lessee.inside.load(Acquire);
        if depth == 0 {
            return;
        }
        let _ = futex::wait(&lessee.inside, futex::Flags::PRIVATE, depth, None);
    }
}

/// The lock, held: on the lease (`lending` is `None`) or the usual way.
pub(crate) struct Guard<'a, T> {
    lock: &'a LeasedMutex<T>,
    lending: Option<MutexGuard<'a, Lending>>,
    /// Dropped on the thread that took it: a lessee's guard clears that thread's flag.
    not_send: PhantomData<*const ()>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    #[allow(unsafe_code)]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock (see `Sync` above), for as long as it lives.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    #[allow(unsafe_code)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        match &mut self.lending {
            None => {
                let _ = THREAD.try_with(|me| me.leave(|| self.lock.lease.load(Relaxed)));
            }
            Some(lending) => {
                if lending.streak.1 >= LEASE_AFTER && can_recall() {
                    if let Ok(me) = THREAD.try_with(Arc::clone) {
                        self.lock.lease.store(me.id, Release);
                        lending.lessee = Some(me);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_keeps_taking_the_lock_gets_the_lease_and_loses_it_to_another() {
        let lock = Arc::new(LeasedMutex::new(0u64));
        for _ in 0..LEASE_AFTER + 1 {
            *lock.lock() += 1;
        }
        let me = THREAD.with(|me| me.id);
        assert_eq!(lock.lease.load(Relaxed), me, "leased after a streak");
        let other = Arc::clone(&lock);
        std::thread::spawn(move || *other.lock() += 1)
            .join()
            .expect("the other thread");
        assert_eq!(lock.lease.load(Relaxed), 0, "recalled by the other thread");
        assert_eq!(*lock.lock(), u64::from(LEASE_AFTER) + 2);
    }

    #[test]
    fn threads_taking_turns_never_hold_a_lease() {
        let lock = Arc::new(LeasedMutex::new(0u64));
        let other = Arc::clone(&lock);
        let (ping, pong) = (std::sync::mpsc::channel(), std::sync::mpsc::channel());
        let (to_other, from_me) = ping;
        let (to_me, from_other) = pong;
        let turns = std::thread::spawn(move || {
            while from_me.recv().is_ok() {
                *other.lock() += 1;
                let _ = to_me.send(other.lease.load(Relaxed));
            }
        });
        for _ in 0..2 * LEASE_AFTER {
            *lock.lock() += 1;
            to_other.send(()).expect("the other thread");
            assert_eq!(from_other.recv().expect("its turn"), 0);
        }
        drop(to_other);
        turns.join().expect("the other thread");
        assert_eq!(*lock.lock(), 4 * u64::from(LEASE_AFTER));
    }

    /// Two threads, each adding to a count in two steps that a second holder inside at the
    /// same time would tear: one in long runs (so it holds the lease), the other now and then
    /// (so it recalls it), until it has recalled the lease 200 times. Every increment must
    /// survive.
    #[test]
    fn a_lessee_and_a_recaller_are_never_inside_together() {
        struct Pair {
            a: u64,
            b: u64,
        }
        fn add(pair: &mut Pair) {
            let a = pair.a;
            pair.a = std::hint::black_box(a) + 1;
            pair.b += 1;
            assert_eq!(pair.a, pair.b, "torn by another holder");
        }
        let lock = Arc::new(LeasedMutex::new(Pair { a: 0, b: 0 }));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let streamer = {
            let (lock, stop) = (Arc::clone(&lock), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut takes = 0u64;
                while !stop.load(Relaxed) {
                    add(&mut lock.lock());
                    takes += 1;
                }
                takes
            })
        };
        let (mut takes, mut recalls) = (0u64, 0u64);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while recalls < 200 && std::time::Instant::now() < deadline {
            recalls += u64::from(lock.lease.load(Relaxed) != 0);
            add(&mut lock.lock());
            takes += 1;
            std::thread::sleep(std::time::Duration::from_micros(20));
        }
        stop.store(true, Relaxed);
        let streamed = streamer.join().expect("the streamer");
        let pair = lock.lock();
        assert_eq!(pair.a, streamed + takes, "an increment was lost");
        assert_eq!(
            recalls, 200,
            "the streamer held a lease {recalls} times in a minute"
        );
    }
}
