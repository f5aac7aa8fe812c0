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
//!
//! A thread holds one lease at most, so its flag says it is inside one lock, the one leased to
//! it: a recaller waits for the lessee to leave that lock, not another it may hold on the way
//! (two systems in one process, each with its lock, must not wait on each other where two
//! mutexes would not), and the lessee, leaving, wakes whoever recalls that lock. A lessee that
//! takes its lock again on its lease while inside panics, where a second guard would be a
//! second `&mut` to the same data; taken again the usual way, the lock deadlocks as a mutex
//! would.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed};
use std::sync::atomic::{Ordering::Release, Ordering::SeqCst, compiler_fence};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rustix::thread::{MembarrierCommand, futex, membarrier, membarrier_query};

/// Takes of the lock in a row by one thread, no other thread's between them, after which that
/// thread is given the lease. A thousand sends cost about 15 µs of locked instructions, more
/// than a recall; threads that take turns never reach it.
pub(crate) const LEASE_AFTER: u32 = 1024;

/// A thread, as the lock knows it: a number, whether a lock is leased to it, and whether it is
/// inside that lock on its lease. Only the thread itself writes `inside`; `leased` is set by
/// the thread and cleared by whoever withdraws its lease.
struct Thread {
    id: u64,
    /// 1 while inside the lock leased to it, else 0: a `u32` for the futex a recaller waits on.
    inside: AtomicU32,
    leased: AtomicBool,
}

thread_local! {
    static THREAD: Arc<Thread> = Arc::new(Thread {
        id: next_thread_id(),
        inside: AtomicU32::new(0),
        leased: AtomicBool::new(false),
    });
}

impl Thread {
    /// Leaves the lock leased to it, whose lease is then read by `lease` (called after the
    /// flag is stored). A recaller waits on the flag once its barrier has run: either the
    /// store came before the barrier (the recaller sees it and does not wait) or the read of
    /// the lease comes after (and sees it withdrawn, and wakes the recaller, the only thread
    /// that can be waiting: it holds that lock's `lending`).
    fn leave(&self, lease: impl FnOnce() -> u64) {
        // Release: the next holder sees what was written inside.
        self.inside.store(0, Release);
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

// SAFETY: the data is reached only through a `Guard`, and one guard exists at a time: held by
// the thread that holds `lending`'s lock, or by the lessee inside on its lease (once: it
// panics rather than enter again while inside), and a lease is recalled (the lessee seen
// outside, and unable to enter again) before the lock's holder gets its guard. So `T` is
// only ever sent between threads, never shared.
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
    ///
    /// # Panics
    ///
    /// If this thread holds the lease and is inside already (a second guard would alias the
    /// first). Taken again by a thread inside the usual way, it deadlocks, as a mutex does.
    pub fn lock(&self) -> Guard<'_, T> {
        if THREAD.try_with(|me| self.enter_on_lease(me)) == Ok(true) {
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
            // Release: the lessee's next lease, taken with an Acquire, comes after this one
            // is withdrawn.
            lessee.leased.store(false, Release);
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

    /// Enters on the lease, if `me` holds it and it is not withdrawn while entering.
    fn enter_on_lease(&self, me: &Thread) -> bool {
        if self.lease.load(Relaxed) != me.id {
            return false;
        }
        // A thread holds one lease at most: inside already, it is inside this lock.
        assert!(
            me.inside.load(Relaxed) == 0,
            "a LeasedMutex was taken again on the thread that holds its lease, inside it"
        );
        me.inside.store(1, Relaxed);
        // The recaller's barrier orders this store before the load below.
        compiler_fence(SeqCst);
        if self.lease.load(Relaxed) == me.id {
            return true;
        }
        // Recalled between the two looks: the recaller may have seen this thread inside, and
        // waits for it to leave.
        me.leave(|| self.lease.load(Relaxed));
        false
    }
}

impl<T> Drop for LeasedMutex<T> {
    fn drop(&mut self) {
        // The lessee may take another lock's lease now.
        let lending = self
            .lending
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(lessee) = lending.lessee.take() {
            lessee.leased.store(false, Release);
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
    // drop): its store of the flag either came before the barrier (and `wait` sees it) or
    // its look at the lease comes after (and sees it withdrawn).
    while lessee.inside.load(Acquire) != 0 {
        let _ = futex::wait(&lessee.inside, futex::Flags::PRIVATE, 1, None);
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
                // A lessee's guard is made inside `THREAD.try_with`, and is not `Send`: its
                // thread's local can only be gone if the guard was kept in another thread
                // local, past it. Left inside, the lessee would hang every recaller: better to
                // stop the process.
                THREAD
                    .try_with(|me| me.leave(|| self.lock.lease.load(Relaxed)))
                    .unwrap_or_else(|_| std::process::abort());
            }
            Some(lending) => {
                if lending.streak.1 >= LEASE_AFTER && can_recall() {
                    // One lease a thread: one that holds another's goes on the usual way,
                    // paying no locked instruction more than a mutex to find out.
                    let take_lease = |me: &Arc<Thread>| {
                        (!me.leased.load(Relaxed)
                            && me
                                .leased
                                .compare_exchange(false, true, Acquire, Relaxed)
                                .is_ok())
                        .then(|| Arc::clone(me))
                    };
                    if let Ok(Some(me)) = THREAD.try_with(take_lease) {
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

    /// Takes `lock` until this thread holds its lease, if it can.
    fn stream(lock: &LeasedMutex<u64>) {
        for _ in 0..=LEASE_AFTER {
            *lock.lock() += 1;
        }
    }

    /// Runs `take` on another thread and says whether it ended within ten seconds (a thread
    /// that hangs is left to the test's end, which then fails).
    fn ends_soon(take: impl FnOnce() + Send + 'static) -> bool {
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            take();
            let _ = done.send(());
        });
        ended
            .recv_timeout(std::time::Duration::from_secs(10))
            .is_ok()
    }

    /// Two locks (two systems in one process): this thread holds the lease of one and takes
    /// the other, and another thread taking the second must not wait for this thread to leave
    /// the first, nor a recall of the first for this thread to leave the second.
    #[test]
    fn a_thread_holds_one_lease_and_a_recall_waits_for_that_lock_only() {
        let (first, second) = (Arc::new(LeasedMutex::new(0)), Arc::new(LeasedMutex::new(0)));
        let me = THREAD.with(|me| me.id);
        stream(&first);
        stream(&second);
        assert_eq!(first.lease.load(Relaxed), me, "leased after a streak");
        assert_eq!(
            second.lease.load(Relaxed),
            0,
            "a second lease to the same thread"
        );
        {
            let _inside_first = first.lock();
            let other = Arc::clone(&second);
            assert!(
                ends_soon(move || *other.lock() += 1),
                "the second lock waited for this thread to leave the first"
            );
        }
        {
            let _inside_second = second.lock();
            let other = Arc::clone(&first);
            assert!(
                ends_soon(move || *other.lock() += 1),
                "the recall of the first lock waited for this thread to leave the second"
            );
        }
        assert_eq!(first.lease.load(Relaxed), 0, "recalled by the other thread");
        stream(&second);
        assert_eq!(
            second.lease.load(Relaxed),
            me,
            "leased once the first was recalled"
        );
        drop(second);
        stream(&first);
        assert_eq!(
            first.lease.load(Relaxed),
            me,
            "leased once the second was dropped"
        );
    }

    #[test]
    fn a_lessee_taking_its_lock_again_while_inside_panics_and_the_lock_goes_on() {
        let lock = Arc::new(LeasedMutex::new(0));
        stream(&lock);
        let outer = lock.lock();
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *lock.lock() += 1));
        assert!(again.is_err(), "a second guard on the lease");
        drop(outer);
        let other = Arc::clone(&lock);
        assert!(ends_soon(move || *other.lock() += 1), "the recall hung");
        assert_eq!(*lock.lock(), u64::from(LEASE_AFTER) + 2);
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
