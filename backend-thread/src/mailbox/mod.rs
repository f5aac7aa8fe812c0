//! One actor's queues, its ledger and its scheduling flag, shared by every thread that sends to
//! it, all behind one short lock.
//!
//! A send has to do four things as one: check that the mailbox is open (and, if bounded, not
//! full), count the message accepted, enqueue it, and learn whether the receiver was idle (then
//! the sender schedules it). Under one lock that costs a send one lock of one cache line, a
//! stop is simply "close, take everything" with no sender half-way in to wait for, and a
//! mailbox that never held more than one message at a time holds no allocation. (The lock-free
//! design it replaces paid two contended read-modify-writes a send, a kilobyte-sized queue
//! segment for each actor's first message and 128-byte-aligned padding on every index: most of
//! the cost of a short-lived actor.) The lock is held for a few instructions at a time and
//! never while a handler runs, so a send never waits for the receiver's work: it stays a
//! non-blocking send in the sense of rule 4.
//!
//! The runner settles the messages it handled (`handled`) when it next takes the lock to fetch
//! work, and gives up the schedule in that same lock when there is none: "idle" and "every
//! accepted message settled" are seen together, with no window between them.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, TryLockError};

use actor_core::{ActorId, Ledger, SendFailure, Signal};
use crossbeam_utils::Backoff;

use crate::lock;

mod queues;
use crate::pool::life::Life;
use crate::pool::queue::Queue;
use crate::pool::runner_only::RunnerOnly;
use queues::{Batch, Queues, take_sys, trim};

/// A message and, if it is an `ask`, its request number (so the asker hears of a failure).
/// Request numbers start at 1, so the number costs a queued message 8 bytes, not 16: a
/// fan-in's sink can hold most of a million messages while its producers run.
pub(crate) struct Envelope<M> {
    pub msg: M,
    pub request: Option<NonZeroU64>,
}

/// What arrives on the system queue, which is handled before any message.
pub(crate) enum SysMsg<M> {
    /// A message that may not be refused for a full mailbox: a fired timer, an ask's outcome.
    Deliver(Envelope<M>),
    /// An ask's outcome, still to be turned into a message by the asker's `on_reply`: that
    /// closure is the asking actor's code, so it runs in the asker's own run loop, under its
    /// `catch_unwind`, not on whatever thread completed the ask.
    Outcome(Box<dyn FnOnce() -> M + Send>),
    Signal(Signal),
    /// Stop now (shutdown): finish nothing more, dead-letter the rest.
    Shutdown,
}

/// A message that may not be refused, arriving where its receiver is gone.
pub(crate) enum Late<T> {
    /// The receiver's mailbox is closed: counted there, accepted and dead.
    Counted(T),
    /// The mailbox serves a later actor now: nothing is counted here (the receiver's final
    /// report is kept with its cell, see `pool/registry.rs`).
    Stale(T),
}

/// The queues, the ledger and the scheduling flag of one actor.
pub(crate) struct Mailbox<M> {
    queues: Mutex<Queues<M>>,
    /// The message that woke an idle actor: the sender that claims the schedule holds it, so
    /// it may leave the message here for the runner, who takes it with no lock. A message
    /// between two actors that take turns (a request, its reply) then costs two locks of the
    /// mailbox (the send, the runner's release), not three. Unbounded mailboxes only: a bounded
    /// one's capacity counts its queue.
    handoff: RunnerOnly<Option<Envelope<M>>>,
    /// The runner's batch: kept with the mailbox, not with the actor's state, so that it
    /// serves every actor of the cell (an actor's end leaves it empty) and costs an actor
    /// nothing to make or drop.
    batch: RunnerOnly<Batch<M>>,
    /// The actor the mailbox is open to, or [`CLOSED`]: a copy of `owner` and `closed`, written
    /// under the lock, that a pool handler's held send reads with no lock (`pool/outbox.rs`), so
    /// that a send to an actor known to have stopped goes in, and is refused, at once.
    serving: AtomicU64,
}

/// [`Mailbox::serving`] when the mailbox is closed (no actor id is `u64::MAX`: its cell index
/// would be the last of 2^32).
const CLOSED: u64 = u64::MAX;

/// The mailbox lock, held past [`Mailbox::next`]'s return when it gives up the schedule: the
/// runner's state that `next` borrows (`taken`, `handled`) may pass to the next runner the
/// moment the lock is released, so it is released only once that borrow has ended.
pub(crate) struct Unlock<'a, M>(#[allow(dead_code)] MutexGuard<'a, Queues<M>>);

/// Why a message did not get into the mailbox, with the message.
pub(crate) struct Refused<M>(pub SendFailure, pub Envelope<M>);

/// A message taken in by [`Mailbox::push`].
#[derive(Clone, Copy)]
pub(crate) struct Pushed<'a> {
    /// The actor was idle: the caller must make it run.
    pub idle: bool,
    /// The mailbox has no bound: later messages may be gathered and put in together
    /// ([`Mailbox::push_all`]), since none can be refused for a full mailbox.
    pub unbounded: bool,
    /// Where to look, with no lock, whether it is still open.
    pub flag: OpenFlag<'a>,
}

/// Whether a mailbox is open, read with no lock ([`Mailbox::serving`]).
#[derive(Clone, Copy)]
pub(crate) struct OpenFlag<'a>(&'a AtomicU64);

impl OpenFlag<'_> {
    /// Open to messages for `to`, as last seen: a close may be seen a moment late (a send
    /// racing a stop is then accepted and dead-lettered, as under the lock), never early. Only a
    /// hint: the mailbox lock has the last word.
    #[inline]
    pub fn is_open_to(self, to: ActorId) -> bool {
        self.0.load(Relaxed) == to.get()
    }
}

/// What the runner may take next.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// A system message, else a message (budget left).
    Any,
    /// A system message only (budget spent); yield if messages wait.
    SysOnly,
    /// A system message only, keeping the schedule (shutdown: the caller stops the actor).
    SysOrNothing,
}

/// The runner's next piece of work.
pub(crate) enum Next<'a, M> {
    Sys(SysMsg<M>),
    Msg(Envelope<M>),
    /// Nothing to take: with [`Take::Any`] and [`Take::SysOnly`] the schedule is given up when
    /// the lock is, that is when the caller drops this (see [`Unlock`]).
    Idle(Unlock<'a, M>),
    /// Budget spent with messages waiting: still scheduled, to run again after others.
    Yield,
}

impl<M> Mailbox<M> {
    /// Takes the lock, spinning briefly before it sleeps: it is held for a few instructions,
    /// so a sender that finds it taken almost always gets it within a few spins, while a
    /// sleeping waiter would cost every later unlock a wake-up system call.
    fn lock(&self) -> MutexGuard<'_, Queues<M>> {
        match self.queues.try_lock() {
            Ok(queues) => queues,
            // Nothing panics under this lock; a poisoned one is still consistent.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => self.lock_contended(),
        }
    }

    #[cold]
    fn lock_contended(&self) -> MutexGuard<'_, Queues<M>> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            match self.queues.try_lock() {
                Ok(queues) => return queues,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        lock(&self.queues)
    }

    /// A new actor's mailbox, already scheduled: its spawner dispatches it (see
    /// [`Mailbox::reopen`] for why a spawn claims no schedule of its own).
    pub fn new(owner: ActorId, capacity: Option<usize>, name: Option<String>) -> Self {
        Self {
            queues: Mutex::new(Queues {
                owner,
                capacity,
                main: Queue::new(),
                sys: Queue::new(),
                accepted: 0,
                handled: 0,
                dead_letters: 0,
                timers_pending: 0,
                closed: false,
                scheduled: true,
                life: Life::new(name),
            }),
            handoff: RunnerOnly::new(None),
            batch: RunnerOnly::new(Batch::new()),
            serving: AtomicU64::new(owner.get()),
        }
    }

    /// The mailbox's open state as it can be read without the lock.
    #[inline]
    pub fn open_flag(&self) -> OpenFlag<'_> {
        OpenFlag(&self.serving)
    }

    /// Ends the account of a gone actor for good: settles its last `handled` messages, hands
    /// its final ledger to `keep` (with the life record, to file its report) and gives up the
    /// schedule, all under the lock, and makes the mailbox wait, closed, for the actor `next`.
    /// From then on a late message, signal or watch for the gone actor finds another owner
    /// here (and is counted where `keep` put the report). Called only by the runner of a gone
    /// actor, whose mailbox is closed and empty.
    pub fn retire(&self, handled: u64, next: ActorId, keep: impl FnOnce(Ledger, &mut Life)) {
        let mut queues = self.lock();
        debug_assert!(queues.closed && queues.sys.is_empty() && queues.main.is_empty());
        queues.handled += handled;
        let ledger = queues.ledger();
        keep(ledger, &mut queues.life);
        queues.owner = next;
        queues.accepted = 0;
        queues.handled = 0;
        queues.dead_letters = 0;
        queues.scheduled = false;
    }

    /// Opens a retired mailbox to the actor it was waiting for, scheduled: the spawner
    /// dispatches the new actor (it has to start anyway), so the claim costs no lock of its
    /// own. No runner can hold the schedule here: the gone actor's runner gave it up in
    /// [`Mailbox::retire`], and a closed mailbox is never claimed (`claim`, `push*` refuse it).
    /// Returns the new actor's id. Its name and the end of vacancy are set in the same lock,
    /// so a watch (which takes this lock) sees the new actor whole or not at all.
    pub fn reopen(&self, capacity: Option<usize>, name: Option<String>) -> ActorId {
        let mut queues = self.lock();
        debug_assert!(queues.closed && !queues.scheduled);
        queues.capacity = capacity;
        queues.closed = false;
        self.serving.store(queues.owner.get(), Relaxed);
        queues.scheduled = true;
        queues.life.name = name;
        queues.life.vacant = false;
        queues.owner
    }

    /// Runs `f` on the life record, with the actor served now, under the lock.
    #[inline]
    pub fn life<R>(&self, f: impl FnOnce(ActorId, &mut Life) -> R) -> R {
        let mut queues = self.lock();
        f(queues.owner, &mut queues.life)
    }

    /// Runs `f` on the life record, with the actor served now and its ledger, under the lock.
    pub fn life_and_ledger<R>(&self, f: impl FnOnce(ActorId, Ledger, &Life) -> R) -> R {
        let queues = self.lock();
        f(queues.owner, queues.ledger(), &queues.life)
    }

    /// Accepts a message for `to` into the queue, or gives it back (`to` stopped, or the
    /// mailbox is full).
    pub fn push(&self, to: ActorId, env: Envelope<M>) -> Result<Pushed<'_>, Refused<M>> {
        let mut queues = self.lock();
        if let Some(reason) = queues.refusal(to) {
            return Err(Refused(reason, env));
        }
        if let Some(capacity) = queues.capacity
            && queues.main.len() >= capacity
        {
            return Err(Refused(SendFailure::Full { capacity }, env));
        }
        queues.accepted += 1;
        let unbounded = queues.capacity.is_none();
        if unbounded && queues.claim() {
            // SAFETY: this sender has just claimed the schedule, so no runner exists until it
            // dispatches one, which then finds the message (the dispatch orders this write
            // before the runner's read).
            #[allow(unsafe_code)]
            let handoff = unsafe { self.handoff.get() };
            *handoff = Some(env);
            return Ok(Pushed {
                idle: true,
                unbounded,
                flag: self.open_flag(),
            });
        }
        queues.main.push(env);
        Ok(Pushed {
            idle: queues.claim(),
            unbounded,
            flag: self.open_flag(),
        })
    }

    /// Accepts every message of `held` for `to`, oldest first, in one lock (the sends a pool
    /// handler gathered for an unbounded mailbox, `pool/outbox.rs`), leaving `held` empty (maybe
    /// a spare chunk of the queue's): `Ok(true)` if the caller must make the actor run. If
    /// `to` has stopped since its send returned `Ok`, they are accepted and dead at once,
    /// counted where `to`'s account is (here, or its final report if the cell serves another
    /// actor now), and left in `held` for the dead-letter record.
    pub fn push_all(&self, to: ActorId, held: &mut Vec<Envelope<M>>) -> Result<bool, Late<()>> {
        let mut queues = self.lock();
        let n = held.len() as u64;
        if queues.owner != to {
            for _ in 0..n {
                let counted = queues.life.count_late(to);
                debug_assert!(counted, "held messages for {to:?}, which never existed");
            }
            return Err(Late::Stale(()));
        }
        queues.accepted += n;
        if queues.closed {
            queues.dead_letters += n;
            return Err(Late::Counted(()));
        }
        // The chunk itself joins the queue: nothing is copied or allocated under the lock.
        *held = queues.main.append(std::mem::take(held));
        Ok(queues.claim())
    }

    /// Accepts a timer's message for `to` when the timer is set (rule 9: it is on the ledger
    /// from then on), or says why not: `to` stopped or never was. A full mailbox does not
    /// refuse it. The message itself comes with [`Mailbox::push_timer`] when it is due.
    pub fn accept_timer(&self, to: ActorId) -> Result<(), SendFailure> {
        let mut queues = self.lock();
        if let Some(refusal) = queues.refusal(to) {
            return Err(refusal);
        }
        queues.accepted += 1;
        queues.timers_pending += 1;
        Ok(())
    }

    /// Queues the message of a timer accepted by [`Mailbox::accept_timer`], now due (`fire`)
    /// or cancelled by shutdown: `Ok(true)` if the caller must make the actor run. If `to`
    /// stopped, or the cell serves a later actor, the message is counted dead on `to`'s ledger
    /// and handed back (`Err`), for the dead-letter log.
    pub fn push_timer(&self, to: ActorId, env: Envelope<M>) -> Result<bool, Envelope<M>> {
        let mut queues = self.lock();
        queues.timers_pending -= 1;
        if queues.owner != to {
            let counted = queues.life.count_late_dead(to);
            debug_assert!(
                counted,
                "a timer for {to:?}, an actor this cell never served"
            );
            return Err(env);
        }
        if queues.closed {
            queues.dead_letters += 1;
            return Err(env);
        }
        queues.sys.push(SysMsg::Deliver(env));
        Ok(queues.claim())
    }

    /// Messages accepted, and settled (handled or dead), by every actor the cell served, read
    /// in one lock; a timer not yet due is left out of the accepted ones, so that a drain does
    /// not wait for it (rule 7).
    pub fn activity(&self) -> (u64, u64) {
        let queues = self.lock();
        let (accepted, settled) = queues.life.retired_activity();
        (
            accepted + queues.accepted - queues.timers_pending,
            settled + queues.handled + queues.dead_letters,
        )
    }

    /// Accepts an ask's outcome for `to` (which may not be refused for a full mailbox) onto
    /// the system queue: `Ok(true)` if the caller must make the actor run; if `to` is gone, see
    /// [`Late`] (nothing is kept: the message was never made).
    pub fn push_outcome(
        &self,
        to: ActorId,
        make: Box<dyn FnOnce() -> M + Send>,
    ) -> Result<bool, Late<()>> {
        let mut queues = self.lock();
        if queues.owner != to {
            return Err(Late::Stale(()));
        }
        queues.accepted += 1;
        if queues.closed {
            queues.dead_letters += 1;
            return Err(Late::Counted(()));
        }
        queues.sys.push(SysMsg::Outcome(make));
        Ok(queues.claim())
    }

    /// Queues a signal or a shutdown order for `to` (not part of the ledger): `Some(true)` if
    /// the caller must make the actor run, `None` if `to` is gone (a closed mailbox is never
    /// scheduled again, so its cell can serve a later actor).
    pub fn push_sys(&self, to: ActorId, msg: SysMsg<M>) -> Option<bool> {
        let mut queues = self.lock();
        if !queues.open_to(to) {
            return None;
        }
        queues.sys.push(msg);
        Some(queues.claim())
    }

    /// Marks the actor scheduled; `true` if it was not, and the caller must make it run. A
    /// closed mailbox is never scheduled again (its cell may be retired: `pool/registry.rs`).
    pub fn claim(&self) -> bool {
        let mut queues = self.lock();
        !queues.closed && queues.claim()
    }

    /// The runner's next piece of work: a system message first, else (with [`Take::Any`]) the
    /// next message. Both are taken from the shared queues in batches into `batch`, the
    /// runner's own queues, so that a run of many messages takes the lock once, not once a
    /// message (senders are not kept off the lock by their receiver). The lock is taken when
    /// the batch is empty and whenever the runner asks to `look` (at the start of a run and every
    /// budget of messages after), so system messages wait at most a budget of messages; each
    /// time, the `handled` count is settled and, when there is no work to take, the schedule is
    /// given up (or kept, see [`Take`]) in that same lock. A bounded
    /// mailbox is taken from one message at a time: its capacity counts every message not yet
    /// being handled. Called only by the thread running the actor.
    pub fn next(&self, handled: &mut u64, take: Take, look: bool) -> Next<'_, M> {
        // SAFETY: called only by the runner, which holds the schedule; the borrow ends within
        // this call, before the lock (and with it, maybe, the schedule) is given up.
        #[allow(unsafe_code)]
        let batch = unsafe { self.batch.get() };
        // The system messages of the last batch come before anything else.
        if let Some(sys) = batch.sys.pop_front() {
            return Next::Sys(sys);
        }
        let taken = &mut batch.msgs;
        if take == Take::Any {
            if look {
                // A handed-over message can only be there at the start of a run (it comes with
                // the schedule of an idle actor), which is a `look`: later calls leave its
                // line, which senders write, alone.
                // SAFETY: called only by the runner, which holds the schedule.
                #[allow(unsafe_code)]
                let handoff = unsafe { self.handoff.get() };
                // The oldest message: it woke the actor, everything else came after it.
                if let Some(env) = handoff.take() {
                    return Next::Msg(env);
                }
            } else if let Some(env) = taken.pop_front() {
                return Next::Msg(env);
            }
        }
        let mut queues = self.lock();
        queues.handled += std::mem::take(handled);
        if !queues.sys.is_empty()
            && let Some(sys) = take_sys(&mut queues, &mut batch.sys)
        {
            return Next::Sys(sys);
        }
        match take {
            Take::Any => {
                let env = if !taken.is_empty() {
                    taken.pop_front()
                } else if queues.capacity.is_some() || queues.main.len() <= 1 {
                    // One message (a request, a reply) is cheaper popped than taken.
                    queues.main.pop_front()
                } else {
                    queues.main.take_all(taken);
                    taken.pop_front()
                };
                match env {
                    Some(env) => Next::Msg(env),
                    None => {
                        // Idle: a burst's spare chunks are not kept for the actor's whole life,
                        // the batch's included (once the schedule is given up below, another
                        // runner may use it at once).
                        // Freed under the lock, and before the schedule is given up: after
                        // that this runner touches nothing it shares with the next one.
                        if queues.main.has_surplus()
                            || taken.has_surplus()
                            || queues.sys.has_surplus()
                            || batch.sys.has_surplus()
                        {
                            trim(&mut queues, batch);
                        }
                        queues.scheduled = false;
                        Next::Idle(Unlock(queues))
                    }
                }
            }
            Take::SysOnly if !taken.is_empty() || queues.release() => Next::Yield,
            Take::SysOnly | Take::SysOrNothing => Next::Idle(Unlock(queues)),
        }
    }

    /// Settles `handled` messages and gives up the schedule unless work is left; `true` if the
    /// actor is to run again. Called only by the thread running the actor.
    pub fn release(&self, handled: u64) -> bool {
        let mut queues = self.lock();
        queues.handled += handled;
        queues.release()
    }

    /// Scheduled, or holding work.
    pub fn is_busy(&self) -> bool {
        let queues = self.lock();
        queues.scheduled || !queues.main.is_empty() || !queues.sys.is_empty()
    }

    /// Open to messages for `to` (see [`Mailbox::push`]).
    pub fn is_open_to(&self, to: ActorId) -> bool {
        self.lock().open_to(to)
    }

    pub fn count_dead(&self) {
        self.lock().dead_letters += 1;
    }

    /// Counts the runner's last `handled` messages, refuses every later send, gives the life
    /// record to `close` (in the same lock: a watch sees the actor running or ended, and an
    /// ended one's reason), then hands each message still accepted (the handed-over one and
    /// the runner's `batch` first) to `dead`. Accepting and enqueueing happen under one
    /// lock, so nothing is on its way in: what is queued now is all there is. `dead` runs
    /// outside the lock (it may send, even to this actor). Called only by the thread running
    /// the actor.
    pub fn close_and_drain<R>(
        &self,
        handled: u64,
        close: impl FnOnce(&mut Life) -> R,
        mut dead: impl FnMut(Envelope<M>),
    ) -> R {
        // SAFETY: called only by the runner, which holds the schedule.
        #[allow(unsafe_code)]
        let handoff = unsafe { self.handoff.get() }.take();
        // SAFETY: as above; the borrow ends within this call.
        #[allow(unsafe_code)]
        let batch = unsafe { self.batch.get() };
        // The queues are moved out under the lock, and emptied (their chunks freed: a gone
        // actor keeps no queue memory) after it: senders never wait for a long queue's drain.
        let (mut queued, mut sys, closed) = {
            let mut queues = self.lock();
            queues.handled += handled;
            queues.closed = true;
            self.serving.store(CLOSED, Relaxed);
            let closed = close(&mut queues.life);
            // The usual end (an actor that handled all it got): nothing accepted is left and
            // no queue holds memory, so there is nothing to count, move out or free.
            if handoff.is_none()
                && batch.msgs.is_bare()
                && batch.sys.is_bare()
                && queues.main.is_bare()
                && queues.sys.is_bare()
            {
                return closed;
            }
            let queued = std::mem::replace(&mut queues.main, Queue::new());
            let sys = std::mem::replace(&mut queues.sys, Queue::new());
            let ledgered = batch
                .sys
                .iter()
                .chain(sys.iter())
                .filter(|sys| matches!(sys, SysMsg::Deliver(_) | SysMsg::Outcome(_)))
                .count();
            let main = usize::from(handoff.is_some()) + batch.msgs.len() + queued.len();
            queues.dead_letters += (main + ledgered) as u64;
            (queued, sys, closed)
        };
        handoff
            .into_iter()
            .chain(batch.msgs.drain())
            .chain(queued.drain())
            .for_each(&mut dead);
        // The runner's batch first: it was queued before what is still in the mailbox.
        for msg in batch.sys.drain().chain(sys.drain()) {
            // An outcome's message was never made: counted, nothing to keep.
            if let SysMsg::Deliver(env) = msg {
                dead(env);
            }
        }
        closed
    }
}

#[cfg(test)]
mod tests;
