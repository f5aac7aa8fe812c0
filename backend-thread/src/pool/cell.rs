//! An actor's cell: its mailbox, its state (touched only by the thread holding its schedule),
//! and the flags its runner, its context and its supervisor share. A cell serves one actor
//! after another (`registry.rs`); what it does whenever its actor is scheduled is the run loop's
//! (`runner.rs`), which the registry reaches through its `Entry` trait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

use actor_core::kernel::RestartBudget;
use actor_core::{Actor, ActorId, Placement, SpawnOptions};

use super::outbox::Outbox;
use super::runner_only::RunnerOnly;
use crate::mailbox::Mailbox;

/// Where an actor is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Starting,
    Running,
    Gone,
}

/// The mutable part, touched only by the thread running the actor (see [`RunnerOnly`]).
pub(crate) struct Instance<A: Actor> {
    /// The actor that spawned this one, told of a failure it escalates.
    pub parent: Option<ActorId>,
    pub initial: A,
    pub current: A,
    pub status: Status,
    pub budget: RestartBudget,
    /// Handled since the mailbox last counted them: counted when the runner next takes the
    /// mailbox lock (so a message costs no lock of its own to count), and at the latest when
    /// the actor ends, before it is reported gone.
    pub unsettled: u64,
    /// Sends held while a pool handler runs (`pool/outbox.rs`); empty between handlers.
    pub outbox: Outbox,
}

impl<A: Actor> Instance<A> {
    /// A new actor's state, to be started.
    fn new(initial: A, actor: A, options: &SpawnOptions, parent: Option<ActorId>) -> Self {
        Self {
            parent,
            initial,
            current: actor,
            status: Status::Starting,
            budget: RestartBudget::new(options.supervision),
            unsettled: 0,
            outbox: Outbox::new(),
        }
    }
}

pub(crate) struct ActorCell<A: Actor> {
    /// The actor served now (see `pool/registry.rs`); read with [`ActorCell::id`].
    id: AtomicU64,
    /// The queues, and the life record (name, watchers, end, earlier actors' reports).
    pub mailbox: Mailbox<A::Msg>,
    /// Touched only by the thread that holds the actor's schedule: see [`RunnerOnly`]. `None`
    /// once the actor is retired (its state dropped) until the cell serves the next one.
    pub instance: RunnerOnly<Option<Instance<A>>>,
    /// Set by `ctx.stop()`. Only the runner touches it (the spawner too, before the first
    /// runner exists): the schedule, handed over under the mailbox lock, orders every access,
    /// so it is read and written `Relaxed` (a `SeqCst` store is a full barrier on x86, and an
    /// actor's life had four of them on this flag and `gone`).
    pub stop_requested: AtomicBool,
    pub gone: AtomicBool,
    /// Outside the instance, so a report can read it while a handler runs.
    pub restarts: AtomicU32,
    /// How a dedicated actor's thread is woken; `None` on the pool.
    pub wake: Option<crossbeam_channel::Sender<()>>,
}

impl<A: Actor> ActorCell<A> {
    pub fn new(
        id: ActorId,
        initial: A,
        actor: A,
        options: &SpawnOptions,
        parent: Option<ActorId>,
        wake: Option<crossbeam_channel::Sender<()>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            id: AtomicU64::new(id.get()),
            mailbox: Mailbox::new(id, options.capacity, options.name.clone()),
            instance: RunnerOnly::new(Some(Instance::new(initial, actor, options, parent))),
            restarts: AtomicU32::new(0),
            stop_requested: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            wake,
        })
    }

    /// The actor the cell serves now. Relaxed: it changes only while no other thread uses the
    /// cell for the actor it names (a cell is handed over through the registry's lock).
    pub fn id(&self) -> ActorId {
        ActorId::new(self.id.load(Relaxed))
    }

    /// Makes a retired cell, taken from the registry's free list, serve the actor it waits for,
    /// `id` (`self.id()` names it from now on), scheduled: the caller dispatches it. No thread holds
    /// or can claim the cell's schedule: its mailbox is closed until `reopen`, and the new
    /// actor's id is known to nobody else yet.
    pub fn renew(
        &self,
        id: ActorId,
        initial: A,
        actor: A,
        options: &SpawnOptions,
        parent: Option<ActorId>,
    ) {
        // SAFETY: see above; the free lists' locks, under which the cell moved from the retiring
        // runner to here (`pool/free_cells.rs`), order that runner's use of the instance before this
        // one.
        #[allow(unsafe_code)]
        let instance = unsafe { self.instance.get() };
        *instance = Some(Instance::new(initial, actor, options, parent));
        // Published to the first runner and to readers of the mailbox by the lock `reopen`
        // takes below.
        self.stop_requested.store(false, Relaxed);
        self.id.store(id.get(), Relaxed);
        // SeqCst, not Release: shutdown stores its `stopping` flag, then reads `gone` with no
        // lock (`is_gone`), while this thread's runner stores `gone`, then reads `stopping`.
        // Only a total order over the two stores rules out both reading the old value (the
        // actor would then miss the shutdown order). The new id is stored first, so a reader
        // that sees the actor not gone sees its id.
        self.gone.store(false, SeqCst);
        let owner = self.mailbox.reopen(options.capacity, options.name.clone());
        debug_assert_eq!(
            owner, id,
            "the free list names the actor the cell waits for"
        );
    }

    pub fn dedicated(&self) -> bool {
        self.wake.is_some()
    }

    /// The outbox a handler's context holds its sends in: none on a dedicated thread, whose
    /// handlers may run long (`pool/outbox.rs`).
    pub fn outbox<'a>(&self, outbox: &'a mut Outbox) -> Option<&'a mut Outbox> {
        (!self.dedicated()).then_some(outbox)
    }
}

/// The placement an actor asked for, as this backend applies it.
pub(crate) fn is_dedicated(options: &SpawnOptions) -> bool {
    options.placement == Placement::Dedicated
}
