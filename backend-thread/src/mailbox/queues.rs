//! The mailbox's insides (`mailbox/mod.rs`): the queues and counts its lock guards, and the
//! runner's batch of what it has taken and not handled yet.

use actor_core::{ActorId, Ledger, SendFailure};

use super::{Envelope, SysMsg};
use crate::pool::life::Life;
use crate::pool::queue::{Queue, Taken};

/// The oldest system message, the others of a batch into `batch`. Out of line: the path of
/// messages (`Mailbox::next`) stays small enough to be compiled as one piece.
#[inline(never)]
pub(super) fn take_sys<M>(
    queues: &mut Queues<M>,
    batch: &mut Taken<SysMsg<M>>,
) -> Option<SysMsg<M>> {
    // One system message (the usual case) is cheaper popped than taken.
    if queues.sys.len() == 1 {
        queues.sys.pop_front()
    } else {
        queues.sys.take_all(batch);
        batch.pop_front()
    }
}

/// Frees the spare chunks of an idle actor's queues beyond what it keeps.
#[cold]
pub(super) fn trim<M>(queues: &mut Queues<M>, batch: &mut Batch<M>) {
    let spare = (queues.main.trim(), batch.msgs.trim());
    drop((spare, queues.sys.trim(), batch.sys.trim()));
}

/// What the runner has taken from the mailbox in a batch and not handled yet: still queued as
/// far as the rules go (kept across a restart, dead letters at a stop). System messages are
/// taken in batches too: a parent told of ten thousand children's ends takes the lock once a
/// batch, not once a signal, and the children, queueing them, never wait for a large buffer
/// to be moved under the lock (the queue is in chunks).
pub(super) struct Batch<M> {
    pub(super) sys: Taken<SysMsg<M>>,
    pub(super) msgs: Taken<Envelope<M>>,
}

impl<M> Batch<M> {
    pub(super) const fn new() -> Self {
        Self {
            sys: Taken::new(),
            msgs: Taken::new(),
        }
    }
}

/// Everything the lock guards.
pub(super) struct Queues<M> {
    /// The actor the mailbox serves now: a cell is used again by a later actor of the same
    /// type (`pool/registry.rs`), and a message for an earlier one is refused here, under the lock
    /// where it would otherwise be accepted.
    pub(super) owner: ActorId,
    /// The bound on `main`, if any.
    pub(super) capacity: Option<usize>,
    pub(super) main: Queue<Envelope<M>>,
    pub(super) sys: Queue<SysMsg<M>>,
    pub(super) accepted: u64,
    pub(super) handled: u64,
    pub(super) dead_letters: u64,
    /// Timers set for an actor of this cell (the one served now or an earlier one) and not yet
    /// due: each is on its actor's ledger as accepted from the moment it was set, but in no
    /// queue yet, so a drain does not wait for it (see `Mailbox::activity`).
    pub(super) timers_pending: u64,
    /// Set once the actor has stopped: every later send is refused.
    pub(super) closed: bool,
    /// Set while the actor is scheduled to run or running: it runs on one thread at a time.
    pub(super) scheduled: bool,
    /// Who watches the actor and how it ended: here, so that a watch and the actor's end are
    /// checked against the owner and `closed` in the same lock (see `pool/life.rs`).
    pub(super) life: Life,
}

impl<M> Queues<M> {
    /// Marks the actor scheduled; `true` if it was not, and the caller must make it run.
    pub(super) fn claim(&mut self) -> bool {
        !std::mem::replace(&mut self.scheduled, true)
    }

    /// Gives up the schedule unless work is left; `true` if the actor is to run again.
    pub(super) fn release(&mut self) -> bool {
        self.scheduled = !self.main.is_empty() || !self.sys.is_empty();
        self.scheduled
    }

    /// Open to messages for `to`: it is the actor served now, and it has not stopped.
    pub(super) fn open_to(&self, to: ActorId) -> bool {
        self.owner == to && !self.closed
    }

    /// Why a message for `to` is not taken: `to` stopped (it is this cell's owner, or an
    /// earlier one), or it never was (a later use of the cell than any yet: a made-up id).
    pub(super) fn refusal(&self, to: ActorId) -> Option<SendFailure> {
        if self.open_to(to) {
            None
        } else if crate::pool::registry::use_of(to) > crate::pool::registry::use_of(self.owner) {
            Some(SendFailure::UnknownActor)
        } else {
            Some(SendFailure::Stopped)
        }
    }

    pub(super) fn ledger(&self) -> Ledger {
        Ledger {
            accepted: self.accepted,
            handled: self.handled,
            dead_letters: self.dead_letters,
        }
    }
}
