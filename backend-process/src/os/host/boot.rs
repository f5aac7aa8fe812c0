//! Giving an actor a process, at its spawn and at each restart: a spare the launcher has ready
//! (`launch.rs`), booted as this actor. When none is ready (a burst of spawns, a restart storm)
//! the actor waits in line for the next one, with its messages queued, and the router goes on
//! routing everyone else's: starting a process takes about a millisecond, and the host's lock
//! is not held for it. A spawn answers once its actor has a process, so `spawn` still returns
//! an actor whose process exists.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use actor_core::kernel::{RestartBudget, Watchers};
use actor_core::{ActorId, ExitReason, Failure, SpawnError, SpawnOptions};
use crossbeam_channel::Sender;
use ipc_channel::ipc::IpcReceiverSet;

use crate::mailbox::Mailbox;
use crate::os::host::State;
use crate::os::host::{Slot, Status};
use crate::os::launch::{CONNECT_TIMEOUT, Launched};
use crate::os::link::ChildLink;
use crate::os::wire::{Entry, MsgType, Payload, ToChild};

/// For tests (`fault_injection::misname_next_boot`, `misplace_next_boot`): the next boot names
/// another actor type (1) or points past its entry record (2).
pub(crate) static MISNAME_NEXT_BOOT: std::sync::atomic::AtomicU8 =
    std::sync::atomic::AtomicU8::new(0);

/// Who is told how a spawn went, once its actor has a process (or cannot get one).
pub(crate) enum SpawnReply {
    /// A spawn from outside any actor, waiting in `ProcessSystem::spawn`.
    External(Sender<Result<ActorId, SpawnError>>),
    /// A `ctx.spawn` in the process of actor `parent`, waiting for `Spawned { token }`.
    Child { parent: ActorId, token: u64 },
}

/// Why an actor needs a process.
pub(crate) enum Purpose {
    Spawn(SpawnReply),
    Restart,
}

/// How long the launcher may fail to start any process before the actor first in line for
/// one is failed with the launcher's error (an actor behind it is failed in turn, a second
/// after it reaches the front, should the failures go on).
const FAIL_AFTER: Duration = Duration::from_secs(1);

/// An actor waiting for a spare process.
pub(crate) struct Awaiting {
    id: ActorId,
    /// When it reached the front of the line.
    front_since: Instant,
    purpose: Purpose,
}

impl State {
    /// Records a new actor and gives it a process: now, or when a spare is ready.
    pub fn spawn(
        &mut self,
        set: &mut IpcReceiverSet,
        entry: Entry,
        actor: Payload,
        msg_type: MsgType,
        options: &SpawnOptions,
        reply: SpawnReply,
    ) {
        if let Err(e) = options.validate() {
            return self.answer(reply, Err(e));
        }
        if !self.stage.is_open() {
            return self.answer(reply, Err(SpawnError::ShuttingDown));
        }
        let parent = match &reply {
            SpawnReply::Child { parent, .. } => Some(*parent),
            SpawnReply::External(_) => None,
        };
        let id = self.actors.next_id();
        let Some(place) = self.directory.publish(id, msg_type.key, options.capacity) else {
            let why = "no memory for the directory's next page".to_string();
            return self.answer(reply, Err(SpawnError::Backend(why)));
        };
        self.actors.push(Slot {
            id,
            name: options.name.clone(),
            type_name: msg_type.name,
            type_key: msg_type.key,
            entry,
            initial: actor,
            capacity: options.capacity,
            place,
            parent,
            status: Status::Starting,
            child: None,
            mailbox: Mailbox::default(),
            restarts: 0,
            budget: RestartBudget::new(options.supervision),
            watchers: Watchers::default(),
            signals: Vec::new(),
            signals_sent: Default::default(),
            signals_taken: 0,
            doomed: None,
            bell: None,
        });
        self.start_process(set, id, Purpose::Spawn(reply));
    }

    /// Gives actor `id` a process and boots it, now if a spare is ready and no other actor is
    /// waiting for one, else when its turn comes ([`attach_awaiting`](Self::attach_awaiting)).
    pub fn start_process(&mut self, set: &mut IpcReceiverSet, id: ActorId, purpose: Purpose) {
        // Until it has a process, the actor is starting: its messages and signals wait for it.
        if let Some(slot) = self.slot_mut(id)
            && slot.is_alive()
        {
            slot.set_status(Status::Starting);
        }
        let taken = if self.awaiting.is_empty() {
            self.launcher.try_take()
        } else {
            None
        };
        match taken {
            Some(launched) => self.boot(set, id, launched, purpose),
            None => self.awaiting.push_back(Awaiting {
                id,
                front_since: Instant::now(),
                purpose,
            }),
        }
    }

    /// Gives the actors waiting for a process the spares that are ready, in order. Called by
    /// the router each time round (the launcher wakes it when a spare is ready). An actor that
    /// no longer needs one (shut down meanwhile) leaves the line. The one at the front is
    /// failed if the launcher has failed every start for a second and more of its time there
    /// (the error says why), or if it has been there longer than a process may take to connect:
    /// a slow launcher (a storm of restarts, a loaded machine) fails no one.
    pub fn attach_awaiting(&mut self, set: &mut IpcReceiverSet) {
        while let Some(next) = self.awaiting.front() {
            let id = next.id;
            let front_since = next.front_since;
            let wants = self
                .slot(id)
                .is_some_and(|s| s.child.is_none() && s.status == Status::Starting);
            if !wants {
                if let Some(gone) = self.awaiting.pop_front()
                    && let Purpose::Spawn(reply) = gone.purpose
                {
                    // It was spawned (it is in the shutdown report); it ended before it could
                    // start.
                    self.answer(reply, Ok(id));
                }
                if let Some(next) = self.awaiting.front_mut() {
                    next.front_since = Instant::now();
                }
                continue;
            }
            let launched = match self.launcher.try_take() {
                Some(launched) => launched,
                None => match self.launcher.failing() {
                    Some((since, why)) if since.max(front_since).elapsed() > FAIL_AFTER => {
                        Err(format!("no process could be started: {why}"))
                    }
                    _ if front_since.elapsed() > CONNECT_TIMEOUT => {
                        Err(format!("no process was ready within {CONNECT_TIMEOUT:?}"))
                    }
                    _ => return,
                },
            };
            if let Some(waited) = self.awaiting.pop_front() {
                self.boot(set, id, launched, waited.purpose);
            }
            // The next one's wait at the front starts now.
            if let Some(next) = self.awaiting.front_mut() {
                next.front_since = Instant::now();
            }
        }
    }

    /// Boots actor `id` in `launched`, or fails it if there is no process to boot it in, and
    /// says how it went.
    fn boot(
        &mut self,
        set: &mut IpcReceiverSet,
        id: ActorId,
        launched: Result<Launched, String>,
        purpose: Purpose,
    ) {
        match (launched.and_then(|l| self.attach(set, id, l)), purpose) {
            (Ok(()), Purpose::Spawn(reply)) => self.answer(reply, Ok(id)),
            (Ok(()), Purpose::Restart) => {}
            (Err(e), Purpose::Spawn(reply)) => {
                self.terminate(id, ExitReason::Failed(Failure::Transport(e.clone())));
                self.answer(reply, Err(SpawnError::Backend(e)));
            }
            (Err(e), Purpose::Restart) => self.give_up(id, Failure::Transport(e)),
        }
    }

    /// Makes `launched` the process of actor `id`: boots it, starts its writer, and hands it
    /// whatever waits for the actor.
    fn attach(
        &mut self,
        set: &mut IpcReceiverSet,
        id: ActorId,
        launched: Launched,
    ) -> Result<(), String> {
        let incarnation = self.actors.next_incarnation();
        let clock_offset = self.now();
        let max_frame = self.max_frame;
        let Some(bell) = self.bell_of(id) else {
            launched.discard();
            return Err("no such actor".into());
        };
        let actors = &self.actors;
        let routes = self
            .routes
            .grants_for_sender(id, |to| actors.get(to).and_then(|s| s.bell.clone()));
        let Some(slot) = self.actors.get_mut(id) else {
            launched.discard();
            return Err("no such actor".into());
        };
        let pending = slot.mailbox.pending();
        let sources = self.routes.grants_for_receiver(id, &pending);
        let receiver = launched.receiver;
        let journal = crate::os::journal::create();
        let ring = crate::os::ring::create();
        let link = ChildLink::new(
            launched.process,
            launched.sender,
            journal.clone(),
            ring.clone(),
            bell.clone(),
        );
        let child = match link {
            Ok(child) => child,
            Err(e) => return Err(format!("link to the process: {e}")),
        };
        let mut entry = slot.entry.clone();
        match MISNAME_NEXT_BOOT.swap(0, Relaxed) {
            1 => entry.actor_type.push_str(" (misnamed)"),
            2 => entry.offset = entry.offset.wrapping_add(8),
            _ => {}
        }
        let boot = ToChild::Boot {
            progress_every: crate::os::child::progress_every(slot.capacity),
            entry,
            actor: slot.initial.clone(),
            id,
            clock_offset,
            request_base: incarnation << 40,
            max_frame,
            journal,
            ring,
            bell,
            routes,
            sources,
            directory: self.directory.pages(),
        };
        child.send(boot);
        for signal in std::mem::take(&mut slot.signals) {
            child.send(ToChild::Signal(signal.clone()));
            slot.signals_sent.push_back(signal);
        }
        let channel = match set.add(receiver) {
            Ok(channel) => channel,
            Err(e) => {
                child.kill_and_reap();
                return Err(format!("receiver set: {e}"));
            }
        };
        slot.child = Some(child);
        // A failure decided for the last process is not this one's.
        slot.doomed = None;
        slot.set_status(Status::Starting);
        // Whatever was in the dead process's hands and not started goes to the new one.
        let undelivered = slot.mailbox.in_flight.take_all();
        slot.mailbox.queue.put_after(undelivered);
        slot.pump();
        self.actors.listen(channel, id);
        Ok(())
    }

    /// Tells the spawner how its spawn went.
    fn answer(&mut self, reply: SpawnReply, result: Result<ActorId, SpawnError>) {
        match reply {
            SpawnReply::External(reply) => {
                let _ = reply.send(result);
            }
            SpawnReply::Child { parent, token } => {
                if let Some(child) = self.slot(parent).and_then(|s| s.child.as_ref()) {
                    child.send(ToChild::Spawned { token, result });
                }
            }
        }
    }
}
