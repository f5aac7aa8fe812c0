//! The deterministic core: the actor table, the ready list, the seeded pick, virtual time.
//!
//! Everything the run depends on is here and is a function of the seed and of the calls made:
//! actors are indexed by id in a `Vec`, the ready list is a `Vec` picked from by a seeded PRNG,
//! timers are ordered by (deadline, sequence number). No hash-map order, address or clock enters.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use actor_core::kernel::{
    AskTable, Outcome, ReportBuilder, RestartBudget, Stage, TimerKey, TimerQueue, Watchers,
};
use actor_core::{
    Actor, ActorId, ActorReport, Addr, AskError, DeadLetterReason, ExitReason, Ledger, Message,
    SendError, SendFailure, Signal, SpawnError, SpawnOptions,
};

use crate::cell::{ActorCell, Cell};
use crate::mailbox::{Envelope, ErasedMailbox, Mailbox, typed};
use crate::rng::Rng;
use crate::system::InlineConfig;

/// Where an actor is in its life.
pub(crate) enum Status {
    /// Spawned or restarted; `started` has not run yet.
    Starting,
    Running,
    Gone(ExitReason),
}

/// One entry of the actor table.
pub(crate) struct Slot {
    pub name: Option<String>,
    pub mailbox: Box<dyn ErasedMailbox>,
    pub capacity: Option<usize>,
    /// The actor's code and state; taken out while one of its hooks runs.
    pub cell: Option<Box<dyn Cell>>,
    pub ledger: Ledger,
    pub status: Status,
    pub stop_requested: bool,
    pub restarts: u32,
    pub budget: RestartBudget,
    pub parent: Option<ActorId>,
    pub watchers: Watchers,
    pub signals: VecDeque<Signal>,
    pub in_ready: bool,
    /// Messages whose handling has begun, and `started` attempts: what faults are keyed on.
    pub messages_begun: u64,
    pub starts_begun: u64,
}

impl Slot {
    pub fn is_alive(&self) -> bool {
        !matches!(self.status, Status::Gone(_))
    }

    fn has_work(&self) -> bool {
        match self.status {
            Status::Starting => true,
            Status::Running => !self.signals.is_empty() || self.mailbox.len() > 0,
            Status::Gone(_) => false,
        }
    }
}

/// A fault to inject, deterministically, instead of running an actor's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fail the actor when it begins its `nth` message (counting from 1, over its whole life,
    /// restarts included). The message is dead-lettered as if the handler had panicked.
    FailAtMessage {
        /// The actor.
        actor: ActorId,
        /// Which message, from 1.
        nth: u64,
    },
    /// Fail the actor's `nth` run of `started` (1 is the first start, 2 the first restart...).
    FailAtStart {
        /// The actor.
        actor: ActorId,
        /// Which start, from 1.
        nth: u64,
    },
}

/// One handled message in the trace: which actor handled which message (by send order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceEntry {
    /// The actor that handled it.
    pub actor: ActorId,
    /// Its sender, `None` for code outside any actor.
    pub from: Option<ActorId>,
    /// The message's system-wide send number.
    pub seq: u64,
}

/// What completes an `ask`: a slot the external caller polls, or a closure that turns the
/// outcome into a message for the asking actor.
pub(crate) type Completion = Box<dyn FnOnce(&mut Core, Outcome) + Send>;

/// The asks in flight: an outside caller's (no completion: it polls `external_outcomes`) or an
/// actor's, each with its timeout timer.
pub(crate) type Asks = AskTable<u64, Option<Completion>, TimerKey<Duration>>;

/// Delivers a delayed message when its timer fires (`true`), or dead-letters it when shutdown
/// cancels the timer (`false`).
pub(crate) type Delivery = Box<dyn FnOnce(&mut Core, bool) + Send>;

/// What a timer does.
pub(crate) enum Timer {
    Deliver(Delivery),
    AskTimeout { request: u64, after: Duration },
}

/// The whole state of an inline system.
pub(crate) struct Core {
    pub config: InlineConfig,
    pub rng: Rng,
    pub now: Duration,
    pub slots: Vec<Slot>,
    pub ready: Vec<ActorId>,
    pub timers: TimerQueue<Duration, Timer>,
    pub next_seq: u64,
    pub asks: Asks,
    pub external_outcomes: BTreeMap<u64, Outcome>,
    pub faults: Vec<Fault>,
    pub trace: Vec<TraceEntry>,
    pub fingerprint: u64,
    pub records: ReportBuilder,
    /// Sends from outside and spawns are refused once shutdown begins.
    pub stage: Stage,
}

impl Core {
    pub fn new(config: InlineConfig) -> Self {
        Self {
            records: ReportBuilder::new(config.dead_letters_kept),
            rng: Rng::new(config.seed),
            config,
            now: Duration::ZERO,
            slots: Vec::new(),
            ready: Vec::new(),
            timers: TimerQueue::new(),
            next_seq: 0,
            asks: Asks::new(),
            external_outcomes: BTreeMap::new(),
            faults: Vec::new(),
            trace: Vec::new(),
            fingerprint: 0,
            stage: Stage::Running,
        }
    }

    pub fn slot(&self, id: ActorId) -> Option<&Slot> {
        self.slots.get(usize::try_from(id.get()).ok()?)
    }

    pub fn slot_mut(&mut self, id: ActorId) -> Option<&mut Slot> {
        self.slots.get_mut(usize::try_from(id.get()).ok()?)
    }

    pub fn spawn<A: Actor>(
        &mut self,
        actor: A,
        options: SpawnOptions,
        parent: Option<ActorId>,
    ) -> Result<Addr<A::Msg>, SpawnError> {
        options.validate()?;
        if !self.stage.is_open() {
            return Err(SpawnError::ShuttingDown);
        }
        let id = ActorId::new(self.slots.len() as u64);
        self.slots.push(Slot {
            name: options.name,
            mailbox: Box::new(Mailbox::<A::Msg>::new()),
            capacity: options.capacity,
            cell: Some(Box::new(ActorCell::new(actor))),
            ledger: Ledger::default(),
            status: Status::Starting,
            stop_requested: false,
            restarts: 0,
            budget: RestartBudget::new(options.supervision),
            parent,
            watchers: Watchers::default(),
            signals: VecDeque::new(),
            in_ready: false,
            messages_begun: 0,
            starts_begun: 0,
        });
        self.mark_ready(id);
        Ok(Addr::from_id(id))
    }

    pub fn mark_ready(&mut self, id: ActorId) {
        if let Some(slot) = self.slot_mut(id)
            && !slot.in_ready
            && slot.has_work()
        {
            slot.in_ready = true;
            self.ready.push(id);
        }
    }

    /// Accepts `msg` for `to`, or gives it back. `from` is `None` outside any actor.
    pub fn send<M: Message>(
        &mut self,
        from: Option<ActorId>,
        to: ActorId,
        msg: M,
        request: Option<u64>,
    ) -> Result<(), SendError<M>> {
        if !self.stage.is_open() && from.is_none() {
            return Err(SendError::new(to, SendFailure::ShuttingDown, msg));
        }
        match self.check_send::<M>(to) {
            Err(reason) => Err(SendError::new(to, reason, msg)),
            Ok(()) => {
                self.enqueue(from, to, msg, request, true);
                Ok(())
            }
        }
    }

    /// Why `to` cannot take a new message of type `M` now, if it cannot.
    pub fn check_send<M: Message>(&mut self, to: ActorId) -> Result<(), SendFailure> {
        let Some(slot) = self.slot_mut(to) else {
            return Err(SendFailure::UnknownActor);
        };
        if !slot.is_alive() {
            return Err(SendFailure::Stopped);
        }
        let expected = slot.mailbox.message_type();
        let capacity = slot.capacity;
        let Some(mailbox) = typed::<M>(slot.mailbox.as_mut()) else {
            return Err(SendFailure::WrongType {
                expected: expected.to_string(),
            });
        };
        if let Some(capacity) = capacity
            && mailbox.queue.len() >= capacity
        {
            return Err(SendFailure::Full { capacity });
        }
        Ok(())
    }

    /// Puts a message in a live actor's queue, counting it as accepted if `count` (a timer's
    /// message was counted when it was scheduled). The caller has checked the receiver.
    pub fn enqueue<M: Message>(
        &mut self,
        from: Option<ActorId>,
        to: ActorId,
        msg: M,
        request: Option<u64>,
        count: bool,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let Some(slot) = self.slot_mut(to) else {
            return;
        };
        if count {
            slot.ledger.accepted += 1;
        }
        if let Some(mailbox) = typed::<M>(slot.mailbox.as_mut()) {
            mailbox.queue.push_back(Envelope {
                msg,
                from,
                request,
                seq,
            });
        }
        self.mark_ready(to);
    }

    /// Runs one step of one actor picked at random among those with work. `false` when none has.
    pub fn step(&mut self) -> bool {
        if self.ready.is_empty() {
            return false;
        }
        let pos = self.rng.below(self.ready.len());
        let id = self.ready[pos];
        crate::supervisor::run_one(self, id);
        // Only appends happened meanwhile, so `pos` still holds `id`.
        let idle = self.slot(id).is_none_or(|s| !s.has_work());
        if idle {
            self.ready.swap_remove(pos);
            if let Some(slot) = self.slot_mut(id) {
                slot.in_ready = false;
            }
        }
        true
    }

    /// Jumps virtual time to the next timer and fires it. `false` when there is none.
    pub fn fire_next_timer(&mut self) -> bool {
        let Some((deadline, timer)) = self.timers.pop_first() else {
            return false;
        };
        self.now = self.now.max(deadline);
        match timer {
            Timer::Deliver(deliver) => deliver(self, true),
            Timer::AskTimeout { request, after } => {
                self.complete_ask(request, Err(AskError::Timeout(after)))
            }
        }
        true
    }

    pub fn add_timer(&mut self, delay: Duration, timer: Timer) -> TimerKey<Duration> {
        self.timers.add(self.now.saturating_add(delay), timer)
    }

    /// Records the end of an ask: a reply, or why there is none. An outcome for an ask that has
    /// already ended is a late reply (counted) or a second failure notice (ignored).
    pub fn complete_ask(&mut self, request: u64, outcome: Outcome) {
        let Some((completion, timer)) = self.asks.complete(&request, outcome.is_ok()) else {
            return;
        };
        if let Some(timer) = timer {
            self.timers.cancel(timer);
        }
        match completion {
            Some(complete) => complete(self, outcome),
            None => {
                self.external_outcomes.insert(request, outcome);
            }
        }
    }

    /// Registers an ask and returns its request number.
    pub fn open_ask(&mut self, timeout: Duration, completion: Option<Completion>) -> u64 {
        let request = self.asks.fresh_request();
        self.asks.open(request, completion);
        let timer = self.add_timer(
            timeout,
            Timer::AskTimeout {
                request,
                after: timeout,
            },
        );
        // Nothing has run since the ask opened: it still waits for its timer.
        let _ = self.asks.set_timer(&request, timer);
        request
    }

    /// Cancels an ask whose request was refused.
    pub fn cancel_ask(&mut self, request: u64) {
        if let Some((_, Some(timer))) = self.asks.cancel(&request) {
            self.timers.cancel(timer);
        }
    }

    pub fn record_handled(&mut self, id: ActorId, from: Option<ActorId>, seq: u64) {
        self.fingerprint = (self.fingerprint.rotate_left(5) ^ id.get() ^ seq.rotate_left(32))
            .wrapping_mul(0x100_0000_01B3);
        if self.config.trace {
            self.trace.push(TraceEntry {
                actor: id,
                from,
                seq,
            });
        }
    }

    pub fn dead_letter(
        &mut self,
        to: ActorId,
        reason: DeadLetterReason,
        message: Option<Box<dyn Any + Send>>,
    ) {
        if let Some(slot) = self.slot_mut(to) {
            slot.ledger.dead_letters += 1;
        }
        self.records.dead_letter(to, reason, message);
    }

    pub fn reports(&self) -> Vec<ActorReport> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, s)| ActorReport {
                id: ActorId::new(i as u64),
                name: s.name.clone(),
                ledger: s.ledger,
                restarts: s.restarts,
                exit: match &s.status {
                    Status::Gone(reason) => reason.clone(),
                    _ => ExitReason::Shutdown,
                },
            })
            .collect()
    }

    /// Pushes a signal to a live actor.
    pub fn signal(&mut self, to: ActorId, signal: Signal) {
        if let Some(slot) = self.slot_mut(to)
            && slot.is_alive()
        {
            slot.signals.push_back(signal);
            self.mark_ready(to);
        }
    }
}
