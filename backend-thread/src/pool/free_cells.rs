//! The free cells of each actor type: where a gone actor's cell waits for the next actor of
//! its type (`registry.rs` says why cells are used again), as the id of the actor it will
//! serve.
//!
//! Each pool worker keeps the cells freed on it in a store of its own, and a spawn on a worker
//! looks there first. Why: in a stream of short lives (spawn + stop), the parent takes cells on
//! one worker while its children end, and free theirs, on the other. With one list shared by
//! all, every cell cost a lock on each side, and the lock's line and the list's moved from core
//! to core each time: `perf` put two fifths of the pool's samples in `reuse` and `recycle`,
//! nearly all on the lock and the list's length. So cells cross between workers a batch at a
//! time: a worker's store that reaches `2 × BATCH` cells of a type gives `BATCH` of them to the
//! shared list, and a spawn on a worker whose own store is empty takes up to `BATCH` from the
//! shared list, or from another worker's store that holds at least `BATCH`.
//!
//! A spawn from outside the pool takes a free cell from anywhere, a worker's store included,
//! so that an actor spawned after another has gone takes its cell. A spawn on a worker that
//! finds too few makes a new cell rather than take them one by one: the cells of a type that a
//! system holds are the most of its actors alive at once plus, at most, `2 × BATCH` waiting in
//! each worker's store.
//!
//! No two locks here are ever held together, so none can wait on another. Cells move from
//! list to list under each list's lock: each move is ordered after the one before, so the
//! runner that freed a cell has finished with it before the spawn that takes it begins.

use std::any::TypeId;
use std::sync::Mutex;

use actor_core::ActorId;
use crossbeam_utils::CachePadded;
// A `TypeId` is a hash already: hashing it again with SipHash cost a third of a recycle.
use rustc_hash::FxHashMap;

use crate::lock;

/// How many free cells move between a worker's store and the other lists at a time.
pub(crate) const BATCH: usize = 32;

/// Free cells by actor type.
type Lists = FxHashMap<TypeId, Vec<ActorId>>;

/// The free cells of a system: a store for each pool worker and one list for all.
pub(crate) struct FreeCells {
    shared: Mutex<Lists>,
    /// Each on cache lines of its own: a worker's store is touched by that worker alone, but
    /// for a steal.
    by_worker: Box<[CachePadded<Mutex<Lists>>]>,
}

/// Up to a batch of free cells, on their way from one list to another with no lock held.
struct Moving {
    ids: [ActorId; BATCH],
    len: usize,
}

impl Moving {
    /// Takes up to `most` (at most a batch) from the end of `list`.
    fn from(list: &mut Vec<ActorId>, most: usize) -> Self {
        let mut moving = Self {
            ids: [ActorId::new(0); BATCH],
            len: 0,
        };
        let from = list.len().saturating_sub(most.min(BATCH));
        for id in list.drain(from..) {
            moving.ids[moving.len] = id;
            moving.len += 1;
        }
        moving
    }

    /// One of the cells, for the caller; the others go into `list`.
    fn deliver(self, list: Option<&mut Vec<ActorId>>) -> Option<ActorId> {
        let (first, rest) = self.ids[..self.len].split_first()?;
        if let Some(list) = list {
            list.extend_from_slice(rest);
        }
        Some(*first)
    }
}

impl FreeCells {
    /// Free lists for a system of `workers` pool workers.
    pub fn new(workers: usize) -> Self {
        Self {
            shared: Mutex::default(),
            by_worker: (0..workers).map(|_| CachePadded::default()).collect(),
        }
    }

    /// A cell of type `ty` is free, waiting for actor `next`; `worker` is the pool worker this
    /// runs on, if any.
    pub fn put(&self, ty: TypeId, next: ActorId, worker: Option<usize>) {
        let Some(store) = worker.and_then(|w| self.by_worker.get(w)) else {
            lock(&self.shared).entry(ty).or_default().push(next);
            return;
        };
        let moving = {
            let mut store = lock(store);
            let kept = store.entry(ty).or_default();
            kept.push(next);
            if kept.len() < 2 * BATCH {
                return;
            }
            Moving::from(kept, BATCH)
        };
        let mut shared = lock(&self.shared);
        shared
            .entry(ty)
            .or_default()
            .extend_from_slice(&moving.ids[..moving.len]);
    }

    /// A free cell of type `ty` (the id of the actor it waits for), if one is to be had; see
    /// the module documentation for where it is looked for.
    pub fn take(&self, ty: TypeId, worker: Option<usize>) -> Option<ActorId> {
        let own = worker.and_then(|w| self.by_worker.get(w));
        if let Some(store) = own
            && let Some(id) = lock(store).get_mut(&ty).and_then(Vec::pop)
        {
            return Some(id);
        }
        // A worker takes a batch into its store; a spawn from outside, which has none, one.
        let most = if own.is_some() { BATCH } else { 1 };
        // Its own statement: the shared list's lock is released before any store is locked.
        let shared = lock(&self.shared)
            .get_mut(&ty)
            .filter(|list| !list.is_empty())
            .map(|list| Moving::from(list, most));
        let moving = shared.or_else(|| self.steal(ty, worker, most))?;
        match own {
            Some(store) => moving.deliver(Some(lock(store).entry(ty).or_default())),
            None => moving.deliver(None),
        }
    }

    /// Up to a batch from another worker's store: from one holding a batch at least, or, from
    /// outside the pool, from any that holds one.
    fn steal(&self, ty: TypeId, worker: Option<usize>, most: usize) -> Option<Moving> {
        let least = if worker.is_some() { BATCH } else { 1 };
        self.by_worker
            .iter()
            .enumerate()
            .filter(|(w, _)| Some(*w) != worker)
            .find_map(|(_, store)| {
                lock(store)
                    .get_mut(&ty)
                    .filter(|list| list.len() >= least)
                    .map(|list| Moving::from(list, most))
            })
    }

    /// How many cells are free, over all types and lists.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        let count = |lists: &Mutex<Lists>| lock(lists).values().map(Vec::len).sum::<usize>();
        count(&self.shared) + self.by_worker.iter().map(|s| count(s)).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    struct B;

    fn ids(range: std::ops::Range<u64>) -> impl Iterator<Item = ActorId> {
        range.map(ActorId::new)
    }

    #[test]
    fn a_worker_takes_back_what_it_freed_last_first() {
        let free = FreeCells::new(2);
        for id in ids(1..4) {
            free.put(TypeId::of::<A>(), id, Some(0));
        }
        assert_eq!(free.take(TypeId::of::<B>(), Some(0)), None, "by type");
        assert_eq!(free.take(TypeId::of::<A>(), Some(0)), Some(ActorId::new(3)));
        assert_eq!(free.count(), 2);
    }

    #[test]
    fn cells_cross_to_another_worker_a_batch_at_a_time() {
        let free = FreeCells::new(2);
        let ty = TypeId::of::<A>();
        for id in ids(0..BATCH as u64 - 1) {
            free.put(ty, id, Some(0));
        }
        assert_eq!(
            free.take(ty, Some(1)),
            None,
            "fewer than a batch: the other worker makes a new cell"
        );
        free.put(ty, ActorId::new(1000), Some(0));
        let taken = free.take(ty, Some(1)).expect("a batch to steal");
        assert_eq!(
            free.count(),
            BATCH - 1,
            "the rest of the batch in worker 1's store"
        );
        assert!(lock(&free.by_worker[0]).get(&ty).is_none_or(Vec::is_empty));
        assert_eq!(lock(&free.by_worker[1])[&ty].len(), BATCH - 1);
        assert_eq!(taken, ActorId::new(0), "the batch's first");
    }

    #[test]
    fn a_full_store_gives_a_batch_to_the_shared_list() {
        let free = FreeCells::new(1);
        let ty = TypeId::of::<A>();
        for id in ids(0..2 * BATCH as u64) {
            free.put(ty, id, Some(0));
        }
        assert_eq!(lock(&free.shared)[&ty].len(), BATCH);
        assert_eq!(lock(&free.by_worker[0])[&ty].len(), BATCH);
    }

    #[test]
    fn a_spawn_from_outside_takes_any_free_cell_anywhere_one_at_a_time() {
        let free = FreeCells::new(2);
        let ty = TypeId::of::<A>();
        free.put(ty, ActorId::new(6), Some(1));
        free.put(ty, ActorId::new(7), Some(1));
        assert_eq!(free.take(ty, None), Some(ActorId::new(7)));
        assert_eq!(free.count(), 1, "the other left where it was");
        assert_eq!(free.take(ty, None), Some(ActorId::new(6)));
        free.put(ty, ActorId::new(8), None);
        assert_eq!(
            free.take(ty, Some(0)),
            Some(ActorId::new(8)),
            "the shared list"
        );
        assert_eq!(free.count(), 0);
    }
}
