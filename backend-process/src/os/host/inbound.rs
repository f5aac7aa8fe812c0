//! What the host does with what a child sends: a batch (its progress, then its frames), each
//! frame checked against the frame limit, and a closed channel (the child's death).

use actor_core::kernel::terminated;
use actor_core::{ActorId, AskError, Asker, ExitReason};
use ipc_channel::ipc::IpcReceiverSet;

use super::{Admission, State, Status};
use crate::ask::PendingAsk;
use crate::os::host::boot::SpawnReply;
use crate::os::wire::{DeliveryRef, MsgType, ToHost};
use crate::timer::Timer;

impl State {
    /// A batch from a child: first its progress (every message up to `finished` is handled),
    /// then its frames in order. A frame that does not decode ends the batch and fails the
    /// child.
    pub(crate) fn on_batch(
        &mut self,
        set: &mut IpcReceiverSet,
        id: ActorId,
        batch: u64,
        finished: u64,
        frames: &[u8],
    ) {
        if let Some(slot) = self.slot_mut(id) {
            if let Some(child) = slot.child.as_mut() {
                child.next_batch = batch.saturating_add(1);
            }
            slot.finished(finished);
            // The process has read on: what waited for room in its link follows.
            slot.pump();
        }
        for frame in crate::os::wire::frames(frames) {
            let failed = frame.is_err();
            self.on_frame(set, id, frame);
            // What follows a frame that does not decode cannot be framed.
            if failed {
                break;
            }
        }
    }

    /// One frame from a child, checked against the frame limit.
    pub(crate) fn on_frame(
        &mut self,
        set: &mut IpcReceiverSet,
        id: ActorId,
        frame: Result<ToHost, String>,
    ) {
        match frame {
            Ok(msg) if msg.payload_len() > self.max_frame => {
                let why = format!(
                    "a frame of {} bytes (the limit is {})",
                    msg.payload_len(),
                    self.max_frame
                );
                self.on_bad_frame(id, &why);
            }
            Ok(msg) => self.on_message(set, id, msg),
            Err(e) => self.on_bad_frame(id, &format!("undecodable: {e}")),
        }
    }

    fn on_message(&mut self, set: &mut IpcReceiverSet, id: ActorId, msg: ToHost) {
        match msg {
            ToHost::Started => {
                if let Some(slot) = self.slot_mut(id)
                    && slot.status == Status::Starting
                {
                    slot.set_status(Status::Running);
                }
            }
            ToHost::Refused { why } => {
                // It exits next; its death is then this failure, not an exit code.
                if let Some(slot) = self.slot_mut(id) {
                    slot.doomed = Some(actor_core::Failure::Transport(format!(
                        "its process refused to run it: {why}"
                    )));
                }
            }
            ToHost::Failed {
                seq,
                direct,
                phase,
                failure,
            } => {
                if let Some((route, place)) = direct {
                    self.failed_on_direct(id, route, place);
                }
                self.on_failure(set, id, seq, phase, failure);
            }
            ToHost::StoppedFailed { failure } => {
                let caught = actor_core::kernel::Caught {
                    phase: actor_core::Phase::Stopped,
                    failure,
                };
                self.records
                    .failure(actor_core::kernel::stopped_failure(id, caught));
            }
            ToHost::Send {
                to,
                msg_type,
                payload,
                delay: None,
                after,
            } => {
                let after = after.filter(|&fence| self.routes.fenced(id, to, fence));
                self.route_from_child(to, msg_type, payload.0, after, Admission::Reserved);
            }
            ToHost::Send {
                to,
                msg_type,
                payload,
                delay: Some(delay),
                ..
            } => self.set_timer(to, msg_type, payload.0, delay),
            ToHost::Check {
                to,
                msg_type,
                reserve,
            } => self.check(id, to, msg_type, reserve),
            ToHost::Ask {
                to,
                msg_type,
                payload,
                request,
                timeout,
                after,
            } => {
                let after = after.filter(|&fence| self.routes.fenced(id, to, fence));
                let asker = Asker::Actor(id);
                self.asks.open((asker, request), PendingAsk::Actor);
                let timer = self.add_timer(
                    timeout,
                    Timer::AskTimeout {
                        asker,
                        request,
                        after: timeout,
                    },
                );
                // Nothing has ended the ask since it opened: it takes its timer.
                let _ = self.asks.set_timer(&(asker, request), timer);
                let delivery = DeliveryRef::Message {
                    payload,
                    ask: Some((asker, request)),
                    after,
                };
                if let Err(reason) = self.accept(to, Some(msg_type), &delivery, Admission::Reserved)
                {
                    self.complete_ask(asker, request, Err(AskError::Rejected(reason)));
                }
            }
            ToHost::Reply {
                asker,
                request,
                payload,
                after,
            } => {
                let after = match asker {
                    Asker::Actor(to) => after.filter(|&fence| self.routes.fenced(id, to, fence)),
                    Asker::External => None,
                };
                self.complete_ask_after(asker, request, Ok(payload.0.to_vec()), after);
            }
            ToHost::OpenRoute { to, msg_type } => self.open_route(id, to, msg_type),
            ToHost::Switched { route } => self.on_switched(id, route),
            ToHost::RouteDone { route } => self.on_route_done(id, route),
            ToHost::Undecodable {
                route,
                place,
                error,
            } => self.undecodable_on_direct(id, route, place, &error),
            ToHost::Spawn {
                token,
                entry,
                actor,
                type_name,
                msg_type,
                options,
            } => {
                self.spawn(
                    set,
                    entry,
                    actor.0.to_vec(),
                    MsgType {
                        name: type_name,
                        key: msg_type,
                    },
                    &options.into(),
                    SpawnReply::Child { parent: id, token },
                );
            }
            ToHost::Watch { target } => self.watch(id, target),
            ToHost::Stopped => {
                let reason = match self.slot(id).map(|s| s.status.clone()) {
                    Some(Status::Stopping(reason)) => reason,
                    _ => ExitReason::Stopped,
                };
                self.terminate(id, reason);
            }
        }
    }

    pub fn watch(&mut self, watcher: ActorId, target: ActorId) {
        let gone = match self.slot_mut(target) {
            None => Some(terminated(target, None)),
            Some(slot) => match &slot.status {
                Status::Gone(reason) => Some(terminated(target, Some(reason.clone()))),
                _ => {
                    slot.watchers.add(watcher);
                    None
                }
            },
        };
        if let Some(signal) = gone {
            self.signal(watcher, signal);
        }
    }

    /// Kills the process that sent a bad frame. Its death is handled when its channel closes,
    /// after every frame it sent before dying: those still count (a message it handled is not
    /// handled again).
    pub(crate) fn on_bad_frame(&mut self, id: ActorId, error: &str) {
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        if slot.doomed.is_none() {
            slot.doomed = Some(actor_core::Failure::Transport(format!(
                "bad frame: {error}"
            )));
            if let Some(child) = slot.child.as_mut() {
                let _ = child.process.kill();
            }
        }
    }

    pub(crate) fn on_closed(&mut self, set: &mut IpcReceiverSet, channel: u64) {
        let Some(id) = self.actors.forget(channel) else {
            return;
        };
        let doomed = self.slot_mut(id).and_then(|s| s.doomed.take());
        self.on_process_death(set, id, doomed);
    }
}
