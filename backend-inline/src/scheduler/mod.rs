//! The deterministic core of an inline system (`Core`): the table of actors, the ready list, the
//! seeded pick, and the parts it owns (the clock and its timers, the asks, the trace, the
//! report's records). This folder holds what only the inline backend has: the seeded scheduler,
//! its random numbers (`rng.rs`), injected faults (`fault.rs`) and the trace (`trace.rs`).
//!
//! Everything the run depends on is here and is a function of the seed and of the calls made:
//! actors are indexed by id in a `Vec`, the ready list is a `Vec` picked from by a seeded PRNG,
//! timers are ordered by (deadline, sequence number). No hash-map order, address or clock enters.

mod fault;
mod rng;
mod trace;

use std::any::Any;
use std::collections::VecDeque;
use std::time::Duration;

use actor_core::kernel::{Caught, Outcome, ReportBuilder, RestartBudget, Stage, Watchers};
use actor_core::{
    ActorId, ActorReport, AskError, DeadLetterReason, ExitReason, Ledger, Message, SendError,
    SendFailure, Signal, SpawnError, SpawnOptions,
};

use crate::ask::{Asks, PendingAsk};
use crate::config::InlineConfig;
use crate::mailbox::{Envelope, ErasedMailbox, typed};
use crate::timer::{Timer, Timers};

pub use fault::Fault;
use rng::Rng;
use trace::Trace;
pub use trace::TraceEntry;

/// Where an actor is in its life.
pub(crate) enum Status {
    /// Spawned or restarted; `started` has not run yet.
    Starting,
    Running,
    Gone(ExitReason),
}

/// What handling the next message came to.
pub(crate) enum Step {
    Handled,
    /// The handler failed; the message has been dead-lettered.
    Failed(Caught),
    Idle,
}

/// An actor's code and state behind a type-erased interface, so that one table holds actors of
/// every type. Implemented by the runner (`runner.rs`), which calls each hook under the kernel's
/// `catch`.
pub(crate) trait Cell: Send {
    fn start(&mut self, core: &mut Core, id: ActorId) -> Result<(), Caught>;
    fn handle_next(&mut self, core: &mut Core, id: ActorId) -> Step;
    fn signal(&mut self, core: &mut Core, id: ActorId, signal: Signal) -> Result<(), Caught>;
    fn stopped(&mut self) -> Result<(), Caught>;
    /// Back to the initial state, for a restart.
    fn reset(&mut self);
}

/// One entry of the table of actors.
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

/// The whole state of an inline system.
pub(crate) struct Core {
    pub config: InlineConfig,
    rng: Rng,
    pub slots: Vec<Slot>,
    ready: Vec<ActorId>,
    pub timers: Timers<Core>,
    next_seq: u64,
    pub asks: Asks<Core>,
    pub faults: Vec<Fault>,
    pub trace: Trace,
    pub records: ReportBuilder,
    /// Sends from outside and spawns are refused once shutdown begins.
    pub stage: Stage,
}

impl Core {
    pub fn new(config: InlineConfig) -> Self {
        Self {
            records: ReportBuilder::new(config.dead_letters_kept),
            rng: Rng::new(config.seed),
            trace: Trace::new(config.trace),
            config,
            slots: Vec::new(),
            ready: Vec::new(),
            timers: Timers::new(),
            next_seq: 0,
            asks: Asks::new(),
            faults: Vec::new(),
            stage: Stage::Running,
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Duration {
        self.timers.now()
    }

    pub fn slot(&self, id: ActorId) -> Option<&Slot> {
        self.slots.get(usize::try_from(id.get()).ok()?)
    }

    pub fn slot_mut(&mut self, id: ActorId) -> Option<&mut Slot> {
        self.slots.get_mut(usize::try_from(id.get()).ok()?)
    }

    /// Adds an actor, with its code and state in `cell` and its typed `mailbox`, ready to start.
    pub fn add_actor(
        &mut self,
        cell: Box<dyn Cell>,
        mailbox: Box<dyn ErasedMailbox>,
        options: SpawnOptions,
        parent: Option<ActorId>,
    ) -> Result<ActorId, SpawnError> {
        options.validate()?;
        if !self.stage.is_open() {
            return Err(SpawnError::ShuttingDown);
        }
        let id = ActorId::new(self.slots.len() as u64);
        self.slots.push(Slot {
            name: options.name,
            mailbox,
            capacity: options.capacity,
            cell: Some(cell),
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
        Ok(id)
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

    /// Picks one actor at random among those with work: its place in the ready list and its id.
    pub fn pick(&mut self) -> Option<(usize, ActorId)> {
        if self.ready.is_empty() {
            return None;
        }
        let pos = self.rng.below(self.ready.len());
        Some((pos, self.ready[pos]))
    }

    /// After a step of the actor `id` picked at `pos`: it leaves the ready list if it has no
    /// work left. Only appends happen to the list during a step, so `pos` still holds `id`.
    pub fn settle(&mut self, pos: usize, id: ActorId) {
        let idle = self.slot(id).is_none_or(|s| !s.has_work());
        if idle {
            self.ready.swap_remove(pos);
            if let Some(slot) = self.slot_mut(id) {
                slot.in_ready = false;
            }
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

    /// Jumps virtual time to the next timer and fires it. `false` when there is none.
    pub fn fire_next_timer(&mut self) -> bool {
        let Some(timer) = self.timers.pop_next() else {
            return false;
        };
        match timer {
            Timer::Deliver(deliver) => deliver(self, true),
            Timer::AskTimeout { request, after } => {
                self.complete_ask(request, Err(AskError::Timeout(after)))
            }
        }
        true
    }

    /// Registers an ask and returns its request number.
    pub fn open_ask(&mut self, timeout: Duration, pending: PendingAsk<Core>) -> u64 {
        self.asks.open(&mut self.timers, timeout, pending)
    }

    /// Records the end of an ask: a reply, or why there is none; an actor's ask runs its
    /// completion.
    pub fn complete_ask(&mut self, request: u64, outcome: Outcome) {
        if let Some((complete, outcome)) = self.asks.complete(&mut self.timers, request, outcome) {
            complete(self, outcome);
        }
    }

    /// Cancels an ask whose request was refused.
    pub fn cancel_ask(&mut self, request: u64) {
        self.asks.cancel(&mut self.timers, request);
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
