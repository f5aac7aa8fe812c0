//! The host: the ledger of every actor and the routing of every message. The router thread
//! (`router.rs`) reads all children's channels and hands what arrives to it; children are
//! started from that thread.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::kernel::{ReportBuilder, Stage, TimerQueue};
use actor_core::{
    ActorId, AskError, Asker, DeadLetter, DeadLetterReason, SendFailure, Signal, SpawnError,
    SpawnOptions,
};
use crossbeam_channel::Sender;
use ipc_channel::ipc::{IpcReceiverSet, IpcSender};

pub(crate) mod boot;
mod inbound;
pub(crate) mod router;
pub(crate) mod routes;
mod slot;
mod table;
mod timers;

pub(crate) use slot::{Slot, Status};
pub(crate) use table::ActorTable;

use crate::ask::{Asks, PendingAsk};
use crate::os::host::boot::Awaiting;
use crate::os::launch::Launcher;
use crate::os::leased::{Guard, LeasedMutex};
use crate::os::wire::{Bytes, DeliveryRef, Fence, MsgType, Payload, ToChild, TypeKey};
use crate::timer::Timer;

/// How a delivery comes by its place in the receiver's mailbox (`directory.rs` counts the
/// places of a bounded one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A send from outside any actor: refused with `Full` if no place is free.
    Fresh,
    /// A send or an ask from an actor, which took its place (if the mailbox is bounded)
    /// before its `send` returned `Ok`.
    Reserved,
    /// An ask's outcome: delivered past the bound, counted accepted now.
    Forced,
    /// A timer that is due: delivered past the bound, and counted accepted when it was set.
    Scheduled,
}

/// The dead letter a refusal makes of a message whose sender was told `Ok` (it checked at the
/// call): its receiver stopped since ([`ReceiverGone`](DeadLetterReason::ReceiverGone)), or,
/// for any other refusal, a check its sender skipped (`Undeliverable`).
fn late_refusal(refusal: &SendFailure) -> DeadLetterReason {
    match refusal {
        SendFailure::Stopped => DeadLetterReason::ReceiverGone,
        _ => DeadLetterReason::Undeliverable,
    }
}

/// A message held in a dead letter, still encoded; the report decodes it where it can.
pub(crate) struct Encoded(pub Payload);

/// Decodes an encoded message of one type into a boxed value, for the report.
pub(crate) type Decoder = fn(&[u8]) -> Option<Box<dyn std::any::Any + Send>>;

pub(crate) fn decoder_of<M: actor_core::Message>(
    bytes: &[u8],
) -> Option<Box<dyn std::any::Any + Send>> {
    crate::os::wire::decode::<M>(bytes)
        .ok()
        .map(|m| Box::new(m) as Box<dyn std::any::Any + Send>)
}

/// A spawn asked for from outside the router thread.
pub(crate) struct SpawnRequest {
    pub entry: crate::os::wire::Entry,
    pub actor: Payload,
    pub msg_type: MsgType,
    pub options: SpawnOptions,
    pub reply: Sender<Result<ActorId, SpawnError>>,
}

/// What the router thread is asked to do by the API.
pub(crate) enum Command {
    Spawn(SpawnRequest),
    Exit,
}

/// Everything the host knows, behind one lock shared by the router and the API.
pub(crate) struct State {
    /// Every actor's record (`table.rs`).
    pub actors: ActorTable,
    pub asks: Asks,
    /// Starts children, and keeps spares started ahead of need.
    pub launcher: Launcher,
    /// Actors waiting for a process (a spawn or a restart that found no spare ready), in
    /// the order they asked.
    pub(crate) awaiting: VecDeque<Awaiting>,
    pub(crate) timers: TimerQueue<Instant, Timer>,
    /// Failures, escalations and the dead-letter log, for the report.
    pub records: ReportBuilder,
    /// The largest payload a child may send; a bigger one fails that child.
    pub max_frame: usize,
    /// Decoders of the message types the host has seen spawned, by key.
    pub decoders: HashMap<TypeKey, Decoder>,
    /// Sends from outside and spawns are refused once shutdown begins; restarts stop once
    /// actors are told to stop.
    pub stage: Stage,
    pub started_at: Instant,
    /// The direct routes between actors' processes (`routes.rs`).
    pub routes: crate::os::host::routes::Routes,
    /// What every process can read of every actor (`directory.rs`).
    pub directory: crate::os::directory::Directory,
}

/// The host's shared parts: the state, and the way to wake the router.
pub(crate) struct Host {
    pub state: LeasedMutex<State>,
    commands: Sender<Command>,
    wake: Mutex<IpcSender<()>>,
}

pub(crate) fn lock(host: &Host) -> Guard<'_, State> {
    host.state.lock()
}

impl Host {
    /// Starts the router thread and returns the host and the thread's handle.
    pub fn start(
        config: &crate::config::ProcessConfig,
    ) -> std::io::Result<(Arc<Host>, std::thread::JoinHandle<()>)> {
        let (wake, woken) = ipc_channel::ipc::channel::<()>()?;
        // The launcher wakes the router when a spare is ready, for an actor waiting for one.
        let spare_made = wake.clone();
        let (commands, inbox) = crossbeam_channel::unbounded();
        let state = State {
            actors: ActorTable::default(),
            asks: Asks::new(),
            launcher: Launcher::start(config.spare_processes, move || {
                let _ = spare_made.send(());
            })?,
            awaiting: VecDeque::new(),
            timers: TimerQueue::new(),
            records: ReportBuilder::new(config.dead_letters_kept),
            // A delivery's length is a `u32` (`packed.rs`); a message for an ask's outcome
            // must always fit, so no payload above that is accepted (with room for the record).
            max_frame: config.max_frame.min(u32::MAX as usize - 1024),
            decoders: HashMap::new(),
            stage: Stage::Running,
            started_at: Instant::now(),
            routes: crate::os::host::routes::Routes::default(),
            directory: crate::os::directory::Directory::default(),
        };
        let host = Arc::new(Host {
            state: LeasedMutex::new(state),
            commands,
            wake: Mutex::new(wake),
        });
        let mut set = IpcReceiverSet::new()?;
        let control = set.add(woken)?;
        let router_host = Arc::clone(&host);
        let router = std::thread::Builder::new()
            .name("actors-process-router".into())
            .spawn(move || crate::os::host::router::route(&router_host, set, control, &inbox))?;
        Ok((host, router))
    }

    pub fn command(&self, command: Command) {
        let _ = self.commands.send(command);
        let wake = self
            .wake
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = wake.send(());
    }
}

impl State {
    pub fn slot(&self, id: ActorId) -> Option<&Slot> {
        self.actors.get(id)
    }

    pub fn slot_mut(&mut self, id: ActorId) -> Option<&mut Slot> {
        self.actors.get_mut(id)
    }

    pub fn now(&self) -> Duration {
        self.started_at.elapsed()
    }

    /// Accepts a delivery for `to`, or says why not. Nothing is counted on refusal (a place a
    /// sender reserved is given back). A user message comes with its type (`msg_type`), which
    /// must be the receiver's; an ask's outcome with none.
    pub fn accept(
        &mut self,
        to: ActorId,
        msg_type: Option<TypeKey>,
        delivery: &DeliveryRef<'_>,
        admission: Admission,
    ) -> Result<(), SendFailure> {
        self.admit(to, msg_type, admission)?;
        let seq = self.actors.next_seq();
        let Some(slot) = self.slot_mut(to) else {
            return Err(SendFailure::UnknownActor);
        };
        if let Err(e) = slot.take(seq, delivery) {
            slot.place.entry().release();
            return Err(SendFailure::Transport(e));
        }
        if admission != Admission::Scheduled {
            slot.mailbox.ledger.accepted += 1;
        }
        slot.mailbox.last_seq = seq;
        Ok(())
    }

    /// Decides whether `to` takes a delivery now, and takes its place in a bounded mailbox.
    fn admit(
        &self,
        to: ActorId,
        msg_type: Option<TypeKey>,
        admission: Admission,
    ) -> Result<(), SendFailure> {
        let Some(slot) = self.slot(to) else {
            return Err(SendFailure::UnknownActor);
        };
        let entry = slot.place.entry();
        if let Some(reason) = self.refusal(to, msg_type) {
            if admission == Admission::Reserved {
                entry.release();
            }
            return Err(reason);
        }
        match admission {
            Admission::Fresh => entry.reserve(),
            Admission::Reserved => Ok(()),
            Admission::Forced | Admission::Scheduled => {
                entry.take_unreserved();
                Ok(())
            }
        }
    }

    /// Why `to` would refuse a message of type `msg_type` (or an ask's outcome, if `None`) now,
    /// room aside, if it would. Nothing is counted.
    pub(crate) fn refusal(&self, to: ActorId, msg_type: Option<TypeKey>) -> Option<SendFailure> {
        let Some(slot) = self.slot(to) else {
            return Some(SendFailure::UnknownActor);
        };
        if !slot.is_alive() {
            return Some(SendFailure::Stopped);
        }
        if msg_type.is_some_and(|t| t != slot.type_key) {
            return Some(SendFailure::WrongType {
                expected: slot.type_name.clone(),
            });
        }
        None
    }

    /// Routes a message whose sender was told `Ok` (an actor's send, behind a fence if it gave
    /// up a direct route for it, or a timer's): accepted, or a dead letter on the receiver's
    /// account: [`ReceiverGone`](DeadLetterReason::ReceiverGone) if it stopped after the
    /// sender's check, else `Undeliverable` (a check the sender skipped).
    pub(crate) fn route_from_child(
        &mut self,
        to: ActorId,
        msg_type: TypeKey,
        payload: &[u8],
        after: Option<Fence>,
        admission: Admission,
    ) {
        let delivery = DeliveryRef::Message {
            payload: Bytes(payload),
            ask: None,
            after,
        };
        if let Err(refusal) = self.accept(to, Some(msg_type), &delivery, admission) {
            let counted = admission == Admission::Scheduled;
            self.dead_on_arrival(to, late_refusal(&refusal), payload.to_vec(), counted);
        }
    }

    /// A message its receiver never took, though its sender was told `Ok` (a child's send, a
    /// timer): a dead letter on the receiver's account, and accepted now unless it was
    /// `counted` already (a timer, when it was set).
    pub(crate) fn dead_on_arrival(
        &mut self,
        to: ActorId,
        reason: DeadLetterReason,
        payload: Payload,
        counted: bool,
    ) {
        if let Some(slot) = self.slot_mut(to) {
            if !counted {
                slot.mailbox.ledger.accepted += 1;
            }
            slot.mailbox.ledger.dead_letters += 1;
            // Taken and freed at once, as `publish_room` counts it.
            slot.place.entry().take_unreserved();
            slot.publish_room();
        }
        self.records
            .dead_letter(to, reason, Some(Box::new(Encoded(payload))));
    }

    /// A timer an actor set: accepted now, on the receiver's account (rule 2 counts it from
    /// here), and delivered when due, past a full mailbox's bound; refused now (the receiver
    /// stopped after the sender's check), a dead letter.
    fn set_timer(&mut self, to: ActorId, msg_type: TypeKey, payload: &[u8], delay: Duration) {
        if let Some(refusal) = self.refusal(to, Some(msg_type)) {
            self.dead_on_arrival(to, late_refusal(&refusal), payload.to_vec(), false);
            return;
        }
        if let Some(slot) = self.slot_mut(to) {
            slot.mailbox.ledger.accepted += 1;
        }
        let payload = payload.to_vec();
        self.add_timer(
            delay,
            Timer::Deliver {
                to,
                msg_type,
                payload,
            },
        );
    }

    /// Answers a child's `Check` of a send to `to`.
    fn check(&mut self, id: ActorId, to: ActorId, msg_type: TypeKey, reserve: bool) {
        let refusal = if reserve {
            self.admit(to, Some(msg_type), Admission::Fresh).err()
        } else {
            self.refusal(to, Some(msg_type))
        };
        let page = self.directory.page_of(to);
        if let Some(child) = self.slot(id).and_then(|s| s.child.as_ref()) {
            child.send(ToChild::Checked { to, refusal, page });
        }
    }

    /// Decodes the dead letters' messages where the host knows their type (it was spawned
    /// from outside any actor), else leaves each as its encoded bytes (`Vec<u8>`).
    pub fn decode_dead_letters(&self, letters: Vec<DeadLetter>) -> Vec<DeadLetter> {
        letters
            .into_iter()
            .map(|mut letter| {
                if let Some(message) = letter.message.take() {
                    letter.message = Some(match message.downcast::<Encoded>() {
                        Ok(encoded) => {
                            let decoder = self
                                .slot(letter.to)
                                .and_then(|s| self.decoders.get(&s.type_key));
                            match decoder.and_then(|decode| decode(&encoded.0)) {
                                Some(decoded) => decoded,
                                None => Box::new(encoded.0),
                            }
                        }
                        Err(other) => other,
                    });
                }
                letter
            })
            .collect()
    }

    /// Ends an ask with its outcome: to the waiting caller, or as a message to the asking actor.
    pub fn complete_ask(&mut self, asker: Asker, request: u64, outcome: Result<Payload, AskError>) {
        self.complete_ask_after(asker, request, outcome, None);
    }

    /// [`complete_ask`](Self::complete_ask), for an outcome that waits behind a fence (a reply
    /// from an actor that had a direct route to the asking one).
    pub fn complete_ask_after(
        &mut self,
        asker: Asker,
        request: u64,
        outcome: Result<Payload, AskError>,
        after: Option<Fence>,
    ) {
        let Some((pending, timer)) = self.asks.complete(&(asker, request), outcome.is_ok()) else {
            return;
        };
        if let Some(timer) = timer {
            self.timers.cancel(timer);
        }
        match pending {
            PendingAsk::External(reply) => drop(reply.try_send(outcome)),
            PendingAsk::Actor => {
                let Asker::Actor(id) = asker else { return };
                let delivery = DeliveryRef::AskOutcome {
                    request,
                    outcome: match &outcome {
                        Ok(reply) => Ok(Bytes(reply)),
                        Err(e) => Err(e.clone()),
                    },
                    after,
                };
                if self.accept(id, None, &delivery, Admission::Forced).is_err() && outcome.is_ok() {
                    self.asks.count_late();
                }
            }
        }
    }

    /// Sends a signal to a live actor's process.
    pub fn signal(&mut self, to: ActorId, signal: Signal) {
        let Some(slot) = self.slot_mut(to) else {
            return;
        };
        if !slot.is_alive() {
            return;
        }
        match &slot.child {
            Some(child) => {
                child.send(ToChild::Signal(signal.clone()));
                slot.signals_sent.push_back(signal);
            }
            // Waiting for a process (`boot.rs`): it gets the signal once it has one.
            None => slot.signals.push(signal),
        }
    }
}
