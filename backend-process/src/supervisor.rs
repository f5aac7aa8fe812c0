//! Failures and what the host does about them: a failure a child reports (a panic or an error,
//! caught in the child), or the death of a child's process (an abort, a signal, `kill -9`, an
//! exit), seen as its channel closing, after which its journal tells what it left behind.
//! Either way the message in hand is dead-lettered, the others are kept, and the restart limit
//! decides between a restart and a stop with escalation.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use actor_core::kernel::{Caught, Escalation, dead_letter_reason, escalation, supervise};
use actor_core::{ActorId, AskError, DeadLetterReason, ExitReason, Failure, FailureRecord, Phase};
use ipc_channel::ipc::IpcReceiverSet;

use crate::os::host::{State, Status};
use crate::os::journal::Remains;
use crate::os::link::ChildLink;
use crate::os::wire::{DeliveryRef, ToChild, ToHost};

/// The failure an exit status stands for: a signal (abort is 6, `kill -9` is 9) or an exit code.
pub(crate) fn exit_failure(status: ExitStatus) -> Failure {
    match status.signal() {
        Some(signal) => Failure::Signal(signal),
        None => Failure::Exit(status.code().unwrap_or(-1)),
    }
}

impl State {
    /// A child reported a failure in a hook and waits for the decision.
    pub(crate) fn on_failure(
        &mut self,
        _set: &mut IpcReceiverSet,
        id: ActorId,
        seq: Option<u64>,
        phase: Phase,
        failure: Failure,
    ) {
        if let Some(seq) = seq {
            self.drop_in_hand(id, seq, &failure);
        }
        let restart = self.decide(id, phase, &failure);
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        if restart {
            slot.set_status(Status::Starting);
            if let Some(child) = &slot.child {
                child.send(ToChild::Restart);
            }
        } else {
            self.give_up(id, failure);
        }
    }

    /// A child's process ended. Expected after a stop; otherwise a crash.
    pub(crate) fn on_process_death(
        &mut self,
        set: &mut IpcReceiverSet,
        id: ActorId,
        failure: Option<Failure>,
    ) {
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        let (status, remains) = match slot.child.take().map(ChildLink::reap) {
            Some((status, remains)) => (Some(status), remains),
            None => (None, Remains::default()),
        };
        self.settle_remains(set, id, &remains);
        self.settle_routes_of_dead(id);
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        match slot.status.clone() {
            Status::Gone(_) => {}
            Status::Stopping(reason) => {
                let reason = if status.is_some_and(|s| s.success()) {
                    reason
                } else {
                    ExitReason::Killed
                };
                self.terminate(id, reason);
            }
            Status::Starting | Status::Running => {
                let failure =
                    failure.unwrap_or_else(|| status.map_or(Failure::Exit(-1), exit_failure));
                if remains.started > remains.finished {
                    self.drop_in_hand(id, remains.started, &failure);
                }
                if self.decide(id, Phase::Process, &failure) {
                    self.start_process(set, id, crate::os::host::boot::Purpose::Restart);
                } else {
                    self.give_up(id, failure);
                }
            }
        }
    }

    /// What a dead child's journal holds: its last progress, and the sends it made that had not
    /// left yet (delivered now: they returned `Ok`). Its other frames (a `Started`, say) no
    /// longer matter: the death decides what happens next.
    pub(crate) fn settle_remains(
        &mut self,
        set: &mut IpcReceiverSet,
        id: ActorId,
        remains: &Remains,
    ) {
        if let Some(slot) = self.slot_mut(id) {
            slot.finished(remains.finished);
            slot.keep_untaken_signals(remains.signals);
        }
        for frame in crate::os::wire::frames(&remains.frames) {
            match frame {
                Ok(
                    frame @ (ToHost::Send { .. }
                    | ToHost::Ask { .. }
                    | ToHost::Reply { .. }
                    | ToHost::Watch { .. }
                    | ToHost::Switched { .. }
                    | ToHost::RouteDone { .. }
                    | ToHost::Undecodable { .. }),
                ) if frame.payload_len() <= self.max_frame => self.on_frame(set, id, Ok(frame)),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    /// Dead-letters the message that was in hand when the actor failed (at most once: it is not
    /// handled again) and fails its ask.
    fn drop_in_hand(&mut self, id: ActorId, seq: u64, failure: &Failure) {
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        // The ask waiting on it, if any. A record the host cannot read back (it wrote it
        // itself) is dropped all the same: it was in hand.
        let ask = match slot.mailbox.in_flight.front() {
            Some(Ok(record)) if record.seq == seq => match record.delivery() {
                Ok(DeliveryRef::Message { ask, .. }) => ask,
                _ => None,
            },
            _ => return,
        };
        slot.mailbox.in_flight.pop_front();
        slot.mailbox.ledger.dead_letters += 1;
        slot.publish_room();
        self.records
            .dead_letter(id, DeadLetterReason::FailedWhileHandling, None);
        if let Some((asker, request)) = ask {
            self.complete_ask(
                asker,
                request,
                Err(AskError::ReceiverFailed(failure.clone())),
            );
        }
    }

    /// Records the failure and spends a restart if the kernel's decision allows one.
    fn decide(&mut self, id: ActorId, phase: Phase, failure: &Failure) -> bool {
        let (now, stage) = (self.now(), self.stage);
        let Some(slot) = self.slot_mut(id) else {
            return false;
        };
        let caught = Caught {
            phase,
            failure: failure.clone(),
        };
        let record = supervise(&mut slot.budget, stage, now, id, caught);
        let restarted = record.restarted;
        if restarted {
            slot.restarts += 1;
        }
        self.records.failure(record);
        restarted
    }

    /// Stops the actor for good and passes the failure up.
    pub(crate) fn give_up(&mut self, id: ActorId, failure: Failure) {
        let parent = self.slot(id).and_then(|s| s.parent);
        self.terminate(id, ExitReason::Failed(failure.clone()));
        // The failure that ended it goes up: a restart that found no process has no record of
        // its own (the last one is the failure that was restarted).
        let record = FailureRecord {
            failure,
            restarted: false,
            ..self
                .records
                .last_failure_of(id)
                .cloned()
                .unwrap_or(FailureRecord {
                    actor: id,
                    phase: Phase::Process,
                    failure: Failure::Exit(-1),
                    restarted: false,
                })
        };
        let parent = parent.filter(|p| self.slot(*p).is_some_and(|s| s.is_alive()));
        match escalation(&record, parent) {
            Escalation::Parent { parent, signal } => self.signal(parent, signal),
            Escalation::Root(record) => self.records.escalation(record),
        }
    }

    /// Marks the actor gone, tells its process to exit, dead-letters everything it had
    /// accepted and not handled (failing the asks among them), and tells its watchers.
    pub(crate) fn terminate(&mut self, id: ActorId, reason: ExitReason) {
        let dead = dead_letter_reason(&reason);
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        if matches!(slot.status, Status::Gone(_)) {
            return;
        }
        slot.set_status(Status::Gone(reason.clone()));
        // Never started again: the initial state's memory goes back now, not at shutdown.
        slot.initial = Vec::new();
        slot.bell = None;
        if let Some(child) = &slot.child {
            child.send(ToChild::Shutdown);
        }
        // Counted as records, so that one the host could not read back still counts.
        slot.mailbox.ledger.dead_letters +=
            (slot.mailbox.in_flight.len() + slot.mailbox.queue.len()) as u64;
        let left = [
            slot.mailbox.in_flight.take_all(),
            std::mem::take(&mut slot.mailbox.queue),
        ];
        let watchers = slot.watchers.take();
        slot.signals = Vec::new();
        slot.signals_sent = Default::default();
        for record in left.iter().flat_map(|packed| packed.records()) {
            match record.delivery() {
                Ok(DeliveryRef::Message { payload, ask, .. }) => {
                    let message = crate::os::host::Encoded(payload.0.to_vec());
                    self.records.dead_letter(id, dead, Some(Box::new(message)));
                    if let Some((asker, request)) = ask {
                        self.complete_ask(asker, request, Err(AskError::ReceiverStopped));
                    }
                }
                _ => self.records.dead_letter(id, dead, None),
            }
        }
        self.close_routes_to(id, dead);
        self.routes.sender_gone(id);
        for (route, receiver) in self.routes.drained() {
            self.on_route_done(receiver, route);
        }
        for (watcher, signal) in watchers.notices(id, &reason) {
            self.signal(watcher, signal);
        }
    }
}
