//! The threads actors run on: a `rayon` pool shared by pool actors (M:N), and one thread per
//! dedicated actor. Every thread is started here and its handle kept, so that shutdown can
//! join them all.
//!
//! An actor woken by a handler running on a pool worker goes into that worker's *next* slot
//! rather than into a new rayon job: when the current actor's batch ends, the worker runs it
//! at once, with no allocation, no deque and no wake-up of another thread (tokio's "LIFO slot",
//! actix's same-thread hand-off). Only one actor fits in the slot; a second one pushes the first
//! out into an ordinary rayon job, which idle workers can steal, and a job hands off at most
//! [`HANDOFFS`] times before it yields to the rest of the pool, so the slot costs no fairness.
//!
//! Every other actor that needs a worker (woken from outside the pool, pushed out of a slot, or
//! yielding after its budget) joins one FIFO of ready actors, and rayon jobs run the oldest
//! first. Order is ours, not rayon's: a rayon worker runs the jobs of its own deque, newest
//! first, before it looks at jobs pushed from outside the pool, so an actor that yielded by
//! spawning itself a new job would run again at once, and an actor woken from outside, or
//! pushed out of a slot earlier, would wait behind it for ever. An actor yields only when
//! another waits in that queue (`runner.rs` renews its budget otherwise), so a busy actor alone
//! keeps its worker.
//!
//! A job does not run one ready actor: it takes ready actors until there are none, and a new
//! job is started only while fewer jobs than workers are taking them. A job each cost an
//! allocation, a reference count on the system, a deque push and often a wake-up of the other
//! worker: a third of a short-lived actor's life, measured on spawn + stop, where every child
//! spawned by a busy parent goes through this queue.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst, fence};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use actor_core::ActorId;
use crossbeam_channel::Receiver;
use crossbeam_queue::ArrayQueue;

use super::registry::Entry;
use super::shared::Shared;
use crate::lock;

/// How many woken actors one pool job runs in turn before it gives the thread back to rayon.
pub(crate) const HANDOFFS: u32 = 128;

thread_local! {
    /// The actor this pool worker runs next: the last one woken by a handler on this thread.
    /// Held by id (the registry outlives every job), so a hand-off costs no reference count.
    static NEXT: Cell<Option<ActorId>> = const { Cell::new(None) };

    /// The system whose pool this thread works for, as its number plus one (0: none). Set
    /// when the worker starts: asking rayon (`current_thread_index`) cost a fifth of a
    /// hand-off, paid by every send that wakes an actor.
    static WORKER_OF: Cell<u64> = const { Cell::new(0) };

    /// This worker's index in its pool (meaningful only where `WORKER_OF` is set).
    static WORKER_INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of this thread in `shared`'s pool, if it is one of its workers.
pub(crate) fn worker_index(shared: &Shared) -> Option<usize> {
    (WORKER_OF.get() == shared.system + 1).then(|| WORKER_INDEX.get())
}

/// Arranges for a scheduled pool actor to run: in this worker's next slot if this thread is one
/// of the system's pool workers, otherwise as a rayon job.
pub(crate) fn run_soon(shared: &Arc<Shared>, actor: ActorId) {
    if WORKER_OF.get() == shared.system + 1 {
        if let Some(earlier) = NEXT.replace(Some(actor)) {
            spawn_job(shared, earlier);
        }
    } else {
        spawn_job(shared, actor);
    }
}

/// How many ready actors the lock-free part of the ready queue holds; more wait in its
/// overflow.
const READY_RING: usize = 4096;

/// The pool actors waiting for a worker, oldest first, and the jobs taking them.
///
/// In a buffer made once: crossbeam's `Injector`, used before, allocates a block for every 63
/// actors pushed, which the worker that empties it frees, into the allocator arena of the
/// thread that pushed. With glibc's malloc, that free waited for the arena's lock while the
/// pushing thread held it to make new cells: in one run of spawn + stop (100k actors, a fresh
/// system), `perf` traced 720 futex waits to it, and 500 more to the spawner's mallocs waiting
/// in turn. A queue behind a lock did away with those, but cost a warm spawn + stop a sixth
/// (criterion), on the lock the two workers took in turn.
pub(crate) struct ReadyQueue {
    ring: ArrayQueue<ActorId>,
    /// Actors that found the ring full, and every actor after them until it is empty again,
    /// so that the queue stays first in, first out. While it holds any, every push takes its
    /// lock (and, once the ring is empty, every pop): a backlog of more ready actors than the
    /// ring holds costs what the locked queue did.
    overflow: Mutex<VecDeque<ActorId>>,
    /// `overflow.len()`, for a look with no lock.
    overflowed: AtomicUsize,
    /// Jobs started that take ready actors until none is left: at most one a worker.
    takers: AtomicUsize,
    workers: usize,
}

impl ReadyQueue {
    pub fn new(workers: usize) -> Self {
        Self {
            ring: ArrayQueue::new(READY_RING),
            overflow: Mutex::default(),
            overflowed: AtomicUsize::new(0),
            takers: AtomicUsize::new(0),
            workers,
        }
    }

    /// Some actor waits for a worker.
    pub fn has_waiting(&self) -> bool {
        !self.ring.is_empty() || self.overflowed.load(SeqCst) > 0
    }

    fn push(&self, actor: ActorId) {
        let actor = if self.overflowed.load(SeqCst) == 0 {
            match self.ring.push(actor) {
                Ok(()) => return,
                Err(actor) => actor,
            }
        } else {
            actor
        };
        let mut overflow = lock(&self.overflow);
        overflow.push_back(actor);
        self.overflowed.store(overflow.len(), SeqCst);
    }

    /// Counts one more taker if fewer than the workers are running; `true` if so.
    fn add_taker(&self) -> bool {
        self.takers
            .fetch_update(SeqCst, SeqCst, |n| (n < self.workers).then_some(n + 1))
            .is_ok()
    }

    /// The oldest ready actor: the ring's, then the overflow's (pushed after all of the ring's).
    fn oldest(&self) -> Option<ActorId> {
        if let Some(actor) = self.ring.pop() {
            return Some(actor);
        }
        if self.overflowed.load(SeqCst) == 0 {
            return None;
        }
        let mut overflow = lock(&self.overflow);
        let oldest = overflow.pop_front();
        self.overflowed.store(overflow.len(), SeqCst);
        oldest
    }
}

/// Puts an actor at the back of the ready queue, and starts a job to take it unless every
/// worker has one already.
pub(crate) fn spawn_job(shared: &Arc<Shared>, actor: ActorId) {
    shared.ready.push(actor);
    // Against a taker's `fence` in `take_ready`: either it sees this actor, or this sees it
    // gone and starts a job.
    fence(SeqCst);
    if shared.ready.add_taker() {
        let shared_for_job = Arc::clone(shared);
        shared.pool.spawn(move || take_ready(&shared_for_job));
    }
}

/// A pool job: runs the oldest ready actor and the actors its handlers wake, and again, until
/// no actor is ready.
fn take_ready(shared: &Arc<Shared>) {
    loop {
        while let Some(oldest) = shared.ready.oldest() {
            run_woken(shared, oldest);
        }
        shared.ready.takers.fetch_sub(1, SeqCst);
        fence(SeqCst);
        // An actor queued after the last look whose sender saw this job still counted.
        if !shared.ready.has_waiting() || !shared.ready.add_taker() {
            return;
        }
    }
}

/// Runs an actor's batch, then the actors its handlers woke, in turn.
fn run_woken(shared: &Arc<Shared>, first: ActorId) {
    let mut current = first;
    for _ in 0..HANDOFFS {
        if let Some(entry) = shared.entry(current) {
            entry.run(shared);
        }
        match NEXT.take() {
            Some(next) => current = next,
            None => return,
        }
    }
    // Still scheduled but not yet run: it joins the ready actors, behind those waiting.
    spawn_job(shared, current);
}

/// Handles of every thread a system started.
pub(crate) type Threads = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// A pool of `threads` workers whose handles go into `handles`.
pub(crate) fn build(
    threads: usize,
    system: u64,
    handles: &Threads,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let handles = Arc::clone(handles);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("actors-{system}-pool-{i}"))
        .spawn_handler(move |thread| {
            let mut builder = std::thread::Builder::new();
            if let Some(name) = thread.name() {
                builder = builder.name(name.to_string());
            }
            let index = thread.index();
            let handle = builder.spawn(move || {
                WORKER_OF.set(system + 1);
                WORKER_INDEX.set(index);
                thread.run();
            })?;
            lock(&handles).push(handle);
            Ok(())
        })
        .build()
}

/// Starts the thread of a dedicated actor: it runs the actor whenever woken, until the actor
/// is gone.
pub(crate) fn spawn_dedicated<E: Entry>(
    shared: &Arc<Shared>,
    cell: Arc<E>,
    wake: Receiver<()>,
) -> std::io::Result<()> {
    let shared_for_thread = Arc::clone(shared);
    let handle = std::thread::Builder::new()
        .name(format!("actors-{}-{}", shared.system, cell.id().get()))
        .spawn(move || {
            while wake.recv().is_ok() {
                cell.run(&shared_for_thread);
                if cell.is_gone() {
                    break;
                }
            }
        })?;
    lock(&shared.threads).push(handle);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_actors_come_out_oldest_first_through_an_overflow_and_after_it() {
        let ready = ReadyQueue::new(2);
        let ids = |range: std::ops::Range<u64>| range.map(ActorId::new);
        assert!(!ready.has_waiting());
        // More than the ring holds: the rest, and what comes while they wait, overflow.
        for id in ids(0..READY_RING as u64 + 100) {
            ready.push(id);
        }
        assert_eq!(ready.overflowed.load(SeqCst), 100);
        let mut taken: Vec<ActorId> = (0..10).filter_map(|_| ready.oldest()).collect();
        // The ring has room again, but the overflow is not empty: these go behind it.
        for id in ids(1_000_000..1_000_005) {
            ready.push(id);
        }
        while let Some(id) = ready.oldest() {
            taken.push(id);
        }
        let expected: Vec<ActorId> = ids(0..READY_RING as u64 + 100)
            .chain(ids(1_000_000..1_000_005))
            .collect();
        assert_eq!(taken, expected);
        assert!(!ready.has_waiting());
        // Empty again: the ring is used again.
        ready.push(ActorId::new(7));
        assert_eq!(ready.overflowed.load(SeqCst), 0);
        assert_eq!(ready.oldest(), Some(ActorId::new(7)));
    }
}
