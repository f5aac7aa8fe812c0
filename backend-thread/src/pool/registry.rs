//! Where a system's actors are found by id, and how the cell of a stopped actor serves the
//! next actor of its type.
//!
//! Why cells are used again: a send finds its receiver with no lock and no reference count (an
//! index into an append-only vector), so a cell can never be freed while the system runs. If
//! every spawn took a new cell, a system that spawns short-lived actors would grow for as long
//! as it runs, and the fresh memory itself was the largest cost of a spawn (page faults: half
//! the CPU time of spawn + stop, measured with `perf stat`). So a pool actor's cell, once the
//! actor is gone and its last runner has given up the schedule, goes on a free list of its
//! actor type (`free_cells.rs`), and a later spawn of that type takes it: the memory held is the
//! most actors of each type alive at once, plus a few batches per pool worker, not the number
//! ever spawned (plus each gone actor's final report, 32 bytes, which the shutdown report
//! lists).
//!
//! An id names one actor, never its successor in the cell: its low 32 bits are the cell's
//! index and its high 32 bits count the cell's uses. Everything that reaches an actor by id
//! checks the owner under the lock where it would act (the mailbox lock for messages and
//! signals, the life lock for watches), so a message or signal for an earlier owner is refused
//! as sent to a stopped actor, and a watch of one is answered from its final report, which the
//! cell keeps (indexed by use) for the shutdown report. A cell whose use count is spent is not
//! used again.

use std::any::{Any, TypeId};
use std::sync::Arc;

use actor_core::{Actor, ActorId, ActorReport, ExitReason, Forgotten, Signal, SpawnOptions};

use super::cell::ActorCell;
use super::free_cells::FreeCells;
use super::shared::Shared;

/// What the registry holds: the operations on an actor that do not depend on its types.
pub(crate) trait Entry: Send + Sync + 'static {
    /// The cell itself, to be downcast to `ActorCell<A>` when it is used again.
    fn cell_any(&self) -> &dyn Any;
    /// The mailbox, to be downcast to `Mailbox<M>` by a sender that knows `M`.
    fn mailbox_any(&self) -> &dyn Any;
    /// The actor the cell serves now (or served last, if it is gone).
    fn id(&self) -> ActorId;
    fn message_type(&self) -> &'static str;
    /// Makes an actor run whose schedule the caller has just claimed (a send that found it
    /// idle) or holds from the start (a spawn: a new actor is scheduled from birth).
    fn dispatch(&self, shared: &Arc<Shared>);
    /// Runs a batch; called by the pool job or the dedicated thread that holds the schedule.
    fn run(&self, shared: &Arc<Shared>);
    /// Queues a signal for actor `to`; `false` if `to` is gone.
    fn signal(&self, shared: &Arc<Shared>, to: ActorId, signal: Signal) -> bool;
    /// Registers a watcher of actor `target`.
    fn add_watcher(&self, target: ActorId, watcher: ActorId) -> Watched;
    /// Orders the actor to stop for shutdown after its current message.
    fn order_shutdown(&self, shared: &Arc<Shared>);
    fn is_gone(&self) -> bool;
    /// Neither scheduled nor holding work.
    fn is_idle(&self) -> bool;
    /// The report of the actor served now, after the kept ones of the earlier actors the cell
    /// served; the others are added to `forgotten`.
    fn reports(&self, into: &mut Vec<ActorReport>, forgotten: &mut Forgotten);
    /// Why `id`, an earlier actor of this cell, ended; `None` if it is not one.
    fn retired_exit(&self, id: ActorId) -> Option<ExitReason>;
    /// Messages accepted, and settled (handled or dead), by every actor the cell served, read
    /// in one lock (a timer not yet due left out).
    fn activity(&self) -> (u64, u64);
}

/// What came of registering a watcher.
pub(crate) enum Watched {
    Added,
    /// The actor is gone, for this reason.
    Gone(ExitReason),
    /// The cell serves a later actor: the watched one's end is in the cell's retired reports.
    Stale,
}

/// One use of a cell more: the same index, the next use.
const NEXT_USE: u64 = 1 << 32;

/// Every cell of a system and the free ones by actor type.
pub(crate) struct Registry {
    cells: boxcar::Vec<Arc<dyn Entry>>,
    free: FreeCells,
}

/// The cell's index in the registry.
fn index_of(id: ActorId) -> usize {
    (id.get() & (NEXT_USE - 1)) as usize
}

/// Which use of its cell an actor is: 0 for the first actor in it.
pub(crate) fn use_of(id: ActorId) -> u64 {
    id.get() >> 32
}

/// The id of the actor of `id`'s cell that is its `n`-th use.
pub(crate) fn with_use(id: ActorId, n: u64) -> ActorId {
    ActorId::new((id.get() & (NEXT_USE - 1)) | (n << 32))
}

/// The id of the actor that will follow `id` in its cell, unless the cell's uses are spent.
pub(crate) fn next_use(id: ActorId) -> Option<ActorId> {
    id.get().checked_add(NEXT_USE).map(ActorId::new)
}

impl Registry {
    /// An empty registry for a system of `workers` pool workers.
    pub fn new(workers: usize) -> Self {
        Self {
            cells: boxcar::Vec::new(),
            free: FreeCells::new(workers),
        }
    }

    /// The cell that serves, or served, actor `id` (its owner may have changed: see the module
    /// documentation).
    pub fn cell(&self, id: ActorId) -> Option<&Arc<dyn Entry>> {
        self.cells.get(index_of(id))
    }

    /// Adds a new cell; `make` gets its actor's id. (Its index reaches 2^32, where ids would
    /// wrap, only after more cells than any memory holds.)
    pub fn insert<E: Entry>(&self, make: impl FnOnce(ActorId) -> Arc<E>) -> Option<Arc<E>> {
        let mut created = None;
        self.cells.push_with(|index| {
            let cell = make(ActorId::new(index as u64));
            created = Some(Arc::clone(&cell));
            cell as Arc<dyn Entry>
        });
        created
    }

    /// Takes a free (retired) cell of `A`'s actors and makes it serve a new actor: the cell and
    /// its new actor's id, or the actor back if no cell is free. `worker` is the pool worker
    /// this runs on, if any (see `free_cells.rs`).
    pub fn reuse<A: Actor>(
        &self,
        worker: Option<usize>,
        initial: A,
        actor: A,
        options: &SpawnOptions,
        parent: Option<ActorId>,
    ) -> Result<(ActorId, &ActorCell<A>), (A, A)> {
        let free = self.free.take(TypeId::of::<A>(), worker);
        // The free lists are by type: the downcast finds the cell it names.
        let Some((id, cell)) = free.and_then(|id| {
            let cell = self.cell(id)?.cell_any().downcast_ref::<ActorCell<A>>()?;
            Some((id, cell))
        }) else {
            return Err((initial, actor));
        };
        cell.renew(id, initial, actor, options, parent);
        Ok((id, cell))
    }

    /// Puts a retired cell on its type's free list; `next` is the id of the actor it waits
    /// for, and `worker` the pool worker this runs on, if any.
    pub fn recycle<A: Actor>(&self, next: ActorId, worker: Option<usize>) {
        self.free.put(TypeId::of::<A>(), next, worker);
    }

    /// Why a gone actor whose cell serves another now ended.
    pub fn exit_of(&self, id: ActorId) -> Option<ExitReason> {
        self.cell(id)?.retired_exit(id)
    }

    /// Every cell, in index order.
    pub fn cells(&self) -> impl Iterator<Item = &Arc<dyn Entry>> {
        self.cells.iter().map(|(_, entry)| entry)
    }

    /// Every actor's report, the kept ones of gone actors whose cell served another included,
    /// in id order, and the others summed.
    pub fn reports(&self) -> (Vec<ActorReport>, Forgotten) {
        let mut reports = Vec::with_capacity(self.cells.count());
        let mut forgotten = Forgotten::default();
        for cell in self.cells() {
            cell.reports(&mut reports, &mut forgotten);
        }
        (in_id_order(reports), forgotten)
    }

    /// How many cells the registry holds (the most actors of each type alive at once, summed).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.cells.count()
    }

    /// How many cells are free, over all types.
    #[cfg(test)]
    pub fn free(&self) -> usize {
        self.free.count()
    }
}

/// Puts reports gathered cell by cell (in index order, each cell's in use order) in id order.
/// An id sorts by use, then by index, so a stable sort by use is enough, and a counting sort
/// does it in linear time: a comparison sort of a million 96-byte reports was a quarter of
/// the instructions of a million-actor spawn + stop, shutdown included.
fn in_id_order(reports: Vec<ActorReport>) -> Vec<ActorReport> {
    // No cell used twice (or one cell only): gathered in order already.
    if reports.is_sorted_by_key(|report| report.id) {
        return reports;
    }
    let use_at = |report: &ActorReport| use_of(report.id) as usize;
    let uses = reports.iter().map(use_at).max().map_or(0, |last| last + 1);
    // Where each use's reports start, then (moving on as they are placed) where the next
    // report of that use goes.
    let mut next = vec![0usize; uses];
    for report in &reports {
        next[use_at(report)] += 1;
    }
    let mut start = 0;
    for slot in &mut next {
        start += std::mem::replace(slot, start);
    }
    let mut placed: Vec<Option<ActorReport>> = Vec::new();
    placed.resize_with(reports.len(), || None);
    for report in reports {
        let at = &mut next[use_at(&report)];
        placed[*at] = Some(report);
        *at += 1;
    }
    let sorted: Vec<ActorReport> = placed.into_iter().flatten().collect();
    debug_assert!(sorted.is_sorted_by_key(|report| report.id));
    sorted
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::{Duration, Instant};

    use actor_core::conformance::actors::{Event, Recorder, RecorderMsg, Worker, WorkerMsg};
    use actor_core::{ActorRef, Addr, Backend, ExitReason, SendFailure, ShutdownMode, Signal};

    use super::index_of;
    use crate::{ThreadConfig, ThreadSystem};

    const WAIT: Duration = Duration::from_secs(10);

    /// Waits until `free` cells are free: a gone actor's cell is freed by its last runner,
    /// after its watchers have been told.
    fn wait_for_free(system: &ThreadSystem, free: usize) {
        let deadline = Instant::now() + WAIT;
        while system.registry().free() < free {
            assert!(Instant::now() < deadline, "no cell was freed");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn events(system: &ThreadSystem, recorder: &Addr<RecorderMsg>) -> Vec<Event> {
        system.ask(recorder, RecorderMsg::Events, WAIT).unwrap()
    }

    #[test]
    fn a_gone_actors_cell_serves_the_next_and_its_address_reaches_only_the_gone_actor() {
        let system = ThreadSystem::new().unwrap();
        let recorder = system.spawn(Recorder::default()).unwrap();
        let first = system.spawn(Worker::new(recorder)).unwrap();
        let watcher = system.spawn(Worker::new(recorder)).unwrap();
        system
            .send(&watcher, WorkerMsg::Watch(1, first.id()))
            .unwrap();
        // A timer the first sets on itself, due once its cell serves the next actor.
        let delay = Duration::from_millis(800);
        let set_at = Instant::now();
        system
            .send(&first, WorkerMsg::Schedule { tag: 2, delay })
            .unwrap();
        system.send(&first, WorkerMsg::Stop(3)).unwrap();
        wait_for_free(&system, 1);
        let cells = system.registry().len();

        let second = system.spawn(Worker::new(recorder)).unwrap();
        assert!(
            set_at.elapsed() < delay,
            "the next actor took the cell before the timer fired (else this tests nothing)"
        );
        assert_eq!(system.registry().len(), cells, "no new cell");
        assert_eq!(index_of(second.id()), index_of(first.id()), "the same cell");
        assert_ne!(second.id(), first.id(), "a new id");
        let refused = system.send(&first, WorkerMsg::Work(4)).unwrap_err();
        assert_eq!(refused.reason(), &SendFailure::Stopped);
        // An id for a use of the cell yet to come names no actor.
        let made_up = Addr::<WorkerMsg>::from_id(actor_core::ActorId::new(
            second.id().get() + super::NEXT_USE,
        ));
        let refused = system.send(&made_up, WorkerMsg::Work(4)).unwrap_err();
        assert_eq!(refused.reason(), &SendFailure::UnknownActor);
        assert_eq!(system.ask(&second, |r| WorkerMsg::Echo(5, r), WAIT), Ok(5));
        // A watch of the first is answered at once, with the first's end.
        system
            .send(&second, WorkerMsg::Watch(6, first.id()))
            .unwrap();
        std::thread::sleep(delay + Duration::from_millis(100));
        assert_eq!(system.ask(&second, |r| WorkerMsg::Echo(7, r), WAIT), Ok(7));

        let seen = events(&system, &recorder);
        let first_end = Signal::Terminated {
            id: first.id(),
            reason: ExitReason::Stopped,
        };
        let at = |actor: &Addr<WorkerMsg>| {
            seen.iter()
                .filter(|e| match e {
                    Event::Handled { actor: a, .. } | Event::Signal { actor: a, .. } => {
                        *a == actor.id()
                    }
                    _ => false,
                })
                .cloned()
                .collect::<Vec<_>>()
        };
        let handled = |actor: &Addr<WorkerMsg>, tag| Event::Handled {
            actor: actor.id(),
            tag,
        };
        let told = |actor: &Addr<WorkerMsg>| Event::Signal {
            actor: actor.id(),
            signal: first_end.clone(),
        };
        assert_eq!(at(&first), [handled(&first, 2), handled(&first, 3)]);
        assert_eq!(at(&watcher), [handled(&watcher, 1), told(&watcher)]);
        assert_eq!(
            at(&second),
            [
                handled(&second, 5),
                handled(&second, 6),
                told(&second),
                handled(&second, 7)
            ],
            "the second gets no message, timer or signal meant for the first"
        );

        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        assert!(report.is_balanced(), "{report:?}");
        let of = |actor: &Addr<WorkerMsg>| {
            report
                .actors
                .iter()
                .find(|a| a.id == actor.id())
                .unwrap()
                .clone()
        };
        let gone = of(&first);
        assert_eq!(gone.exit, ExitReason::Stopped);
        // Schedule and Stop handled; the timer accepted when it was set, and dead when it fired.
        assert_eq!(
            (
                gone.ledger.accepted,
                gone.ledger.handled,
                gone.ledger.dead_letters
            ),
            (3, 2, 1)
        );
        assert_eq!(of(&second).ledger.handled, 3);
        assert_eq!(report.actors.len(), 4, "one report per actor ever spawned");
    }

    /// Counts the drops of its values (initial state and current state alike) in
    /// `DROPS[slot]`, one slot per test, after a pause of `pause_ms`; stops at a message.
    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct Holder {
        slot: usize,
        pause_ms: u64,
    }

    /// One slot per test that counts; the last for one that only spawns them.
    static DROPS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

    impl Holder {
        fn with_slot(slot: usize) -> Self {
            Self { slot, pause_ms: 0 }
        }
    }

    impl Drop for Holder {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(self.pause_ms));
            DROPS[self.slot].fetch_add(1, SeqCst);
        }
    }

    impl actor_core::Actor for Holder {
        type Msg = ();
        fn handle<C: actor_core::Context<Self>>(
            &mut self,
            ctx: &mut C,
            (): (),
        ) -> Result<(), actor_core::ActorError> {
            ctx.stop();
            Ok(())
        }
    }

    #[test]
    fn a_gone_actors_state_is_dropped_when_it_ends_not_when_the_system_does() {
        let system = ThreadSystem::new().unwrap();
        let holder = system
            .spawn(Holder {
                slot: 0,
                pause_ms: 0,
            })
            .unwrap();
        system.send(&holder, ()).unwrap();
        wait_for_free(&system, 1);
        // Its initial state (kept for restarts) and its current one: whatever they held (a
        // file, a socket) is released.
        assert_eq!(DROPS[0].load(SeqCst), 2);
        drop(system);
    }

    #[test]
    fn a_dedicated_actors_state_is_dropped_when_it_ends_too() {
        let system = ThreadSystem::new().unwrap();
        let options = actor_core::SpawnOptions::new().dedicated();
        let holder = Holder {
            slot: 1,
            pause_ms: 0,
        };
        let holder = system.spawn_with(holder, options).unwrap();
        system.send(&holder, ()).unwrap();
        let deadline = Instant::now() + WAIT;
        while DROPS[1].load(SeqCst) < 2 {
            assert!(Instant::now() < deadline, "the state was not dropped");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            system.registry().free(),
            0,
            "a dedicated actor's cell is not reused"
        );
        drop(system);
    }

    #[test]
    fn shutdown_waits_for_a_stopped_actors_state_to_drop_and_reports_the_actor_itself() {
        let system = ThreadSystem::new().unwrap();
        let actor = system
            .spawn(Holder {
                slot: 2,
                pause_ms: 150,
            })
            .unwrap();
        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        assert_eq!(DROPS[2].load(SeqCst), 2);
        let reported: Vec<_> = report
            .actors
            .iter()
            .map(|a| (a.id, a.exit.clone()))
            .collect();
        assert_eq!(reported, [(actor.id(), ExitReason::Shutdown)]);
        assert!(report.unresponsive.is_empty());
    }

    #[test]
    fn actors_spawned_and_stopped_one_after_another_take_no_new_cells() {
        let system = ThreadSystem::new().unwrap();
        let recorder = system.spawn(Recorder::default()).unwrap();
        let mut ids = vec![recorder.id()];
        for n in 0..2_000 {
            let worker = system.spawn(Worker::new(recorder)).unwrap();
            ids.push(worker.id());
            system.send(&worker, WorkerMsg::Stop(n)).unwrap();
            wait_for_free(&system, 1);
        }
        assert_eq!(
            system.registry().len(),
            2,
            "the recorder's cell and one worker cell"
        );
        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        assert!(report.is_balanced());
        // The worker cell keeps the reports of its last 64 actors; the 1,936 before are summed.
        let kept = ThreadConfig::default().gone_reports;
        ids.sort();
        let expected: Vec<_> = ids[..1].iter().chain(&ids[ids.len() - kept..]).collect();
        let reported: Vec<_> = report.actors.iter().map(|a| &a.id).collect();
        assert_eq!(
            reported, expected,
            "the last actors of the cell, once, in id order"
        );
        let handled: Vec<_> = report.actors.iter().map(|a| a.ledger.handled).collect();
        assert_eq!(handled[1..], vec![1; kept][..], "each worker's own Stop");
        let forgotten = report.forgotten;
        assert_eq!(forgotten.actors, (2_000 - kept) as u64);
        assert_eq!(forgotten.ledger.handled, (2_000 - kept) as u64);
        assert!(forgotten.ledger.is_balanced());
    }

    /// Spawns one short-lived child at a time, the next when it hears of the last one's end,
    /// and replies once `left` children have lived.
    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct OneAtATime {
        left: u64,
        #[serde(skip)]
        reply_to: Option<actor_core::ReplyTo<()>>,
    }

    impl OneAtATime {
        fn next<C: actor_core::Context<Self>>(&mut self, ctx: &mut C) {
            if self.left == 0 {
                if let Some(reply_to) = self.reply_to.take() {
                    ctx.reply(reply_to, ());
                }
                return;
            }
            self.left -= 1;
            let child = ctx
                .spawn(Holder::with_slot(3), actor_core::SpawnOptions::new())
                .expect("a child");
            ctx.watch(&child);
            ctx.send(&child, ()).expect("the child is there");
        }
    }

    impl actor_core::Actor for OneAtATime {
        type Msg = (u64, actor_core::ReplyTo<()>);
        fn handle<C: actor_core::Context<Self>>(
            &mut self,
            ctx: &mut C,
            (count, reply_to): Self::Msg,
        ) -> Result<(), actor_core::ActorError> {
            self.left = count;
            self.reply_to = Some(reply_to);
            self.next(ctx);
            Ok(())
        }
        fn signal<C: actor_core::Context<Self>>(
            &mut self,
            ctx: &mut C,
            _: Signal,
        ) -> Result<(), actor_core::ActorError> {
            self.next(ctx);
            Ok(())
        }
    }

    #[test]
    fn children_spawned_one_after_another_by_a_pool_actor_take_a_few_batches_of_cells_at_most() {
        let system = ThreadSystem::new().unwrap();
        let parent = system.spawn(OneAtATime::default()).unwrap();
        system.ask(&parent, |r| (5_000, r), WAIT).unwrap();
        // The parent's cell, and the children's: cells freed on a worker wait in its store
        // until a batch of them is there for the other worker to take (`free_cells.rs`).
        let workers = ThreadConfig::default().threads;
        let most = 1 + workers * 2 * crate::pool::free_cells::BATCH;
        assert!(
            system.registry().len() <= most,
            "{} cells for 5,000 children, one alive at a time (at most {most})",
            system.registry().len()
        );
        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        assert!(report.is_balanced());
        assert_eq!(report.actors.len() as u64 + report.forgotten.actors, 5_001);
    }

    #[test]
    fn a_system_can_keep_every_gone_actors_report() {
        let config = ThreadConfig::default().gone_reports(usize::MAX);
        let system = ThreadSystem::with_config(config).unwrap();
        let mut ids = Vec::new();
        for n in 0..200 {
            let worker = system.spawn(Worker::default()).unwrap();
            ids.push(worker.id());
            system.send(&worker, WorkerMsg::Stop(n)).unwrap();
            wait_for_free(&system, 1);
        }
        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        let reported: Vec<_> = report.actors.iter().map(|a| a.id).collect();
        assert_eq!(reported, ids, "every actor ever spawned, once, in id order");
        assert_eq!(report.forgotten, actor_core::Forgotten::default());
    }
}
