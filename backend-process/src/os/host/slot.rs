//! The host's record of one actor ([`Slot`]): who it is, where it is in its life, its mailbox
//! (the crate's `mailbox.rs`), its place in the directory, and the link to its running process
//! (`os/link.rs`).

use std::collections::VecDeque;

use actor_core::kernel::{RestartBudget, Watchers};
use actor_core::{ActorId, ExitReason, Signal};

use crate::mailbox::Mailbox;
use crate::os::directory::Place;
use crate::os::link::ChildLink;
use crate::os::wire::{DeliveryRef, TypeKey};

/// Where an actor is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Its process is starting, or `started` has not succeeded yet.
    Starting,
    Running,
    /// It has been told to stop (or stopped itself); its process is exiting.
    Stopping(ExitReason),
    Gone(ExitReason),
}

/// One actor's entry in the host's table of actors (`table.rs`).
pub(crate) struct Slot {
    pub id: ActorId,
    pub name: Option<String>,
    pub type_name: String,
    /// The message type's key (`wire::TypeKey`), what a send is checked against.
    pub type_key: TypeKey,
    /// Where the actor's code is (`runner::entry_of`) and its initial state, for each (re)start.
    pub entry: crate::os::wire::Entry,
    pub initial: Vec<u8>,
    pub capacity: Option<usize>,
    /// Its entry in the directory every process reads (`os/directory.rs`).
    pub place: Place,
    pub parent: Option<ActorId>,
    /// Set with [`set_status`](Self::set_status), which keeps the directory in step.
    pub status: Status,
    pub child: Option<ChildLink>,
    /// What it has accepted and not handled, and its ledger.
    pub mailbox: Mailbox,
    pub restarts: u32,
    pub budget: RestartBudget,
    pub watchers: Watchers,
    /// Signals for the actor while it waits for a process, sent to the process it gets.
    pub signals: Vec<Signal>,
    /// Signals sent to its process that the process has not said it took, oldest first, and
    /// how many it has said it took: should it die, the others go to the next process.
    pub signals_sent: VecDeque<Signal>,
    pub signals_taken: u64,
    /// The process sent a bad frame and has been killed: the failure to report when its channel
    /// closes.
    pub doomed: Option<actor_core::Failure>,
    /// What each of the actor's processes sleeps on (`os/bell.rs`): the same for each, so that a
    /// direct route's sender rings the right one whichever process it is.
    pub bell: Option<ipc_channel::ipc::IpcSharedMemory>,
}

impl Slot {
    pub fn is_alive(&self) -> bool {
        !matches!(self.status, Status::Gone(_) | Status::Stopping(_))
    }

    /// Moves the actor on in its life; once it is stopping, the directory refuses sends to it.
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
        if !self.is_alive() {
            self.place.entry().set_stopped();
        }
    }

    /// Publishes, for a bounded mailbox, the places freed so far: every delivery handled or
    /// dead-lettered, and the one in hand (a bound counts the messages that wait, not the one
    /// its process is handling). Called wherever one of those changes.
    pub fn publish_room(&self) {
        if self.capacity.is_some() {
            let freed = self.mailbox.freed(self.child.is_some());
            self.place.entry().set_freed(freed);
        }
    }

    /// Takes a delivery the host has just accepted: written to the process at once if it has
    /// one and nothing waits before it, else queued. Nothing is taken on error.
    pub fn take(&mut self, seq: u64, delivery: &DeliveryRef<'_>) -> Result<(), String> {
        let direct = self.is_alive() && self.mailbox.queue.is_empty();
        if let Some(child) = self.child.as_mut().filter(|_| direct)
            && child.has_room()
        {
            child.deliver(self.mailbox.in_flight.push(seq, delivery)?);
            self.publish_room();
        } else {
            self.mailbox.queue.push(seq, delivery)?;
            self.pump(); // which publishes the room
        }
        Ok(())
    }

    /// Writes the queue to the process, as far as its link has room (the host keeps each
    /// delivery until the process reports it handled). What is left waits for the process to
    /// report progress (`State::on_batch` pumps again).
    pub fn pump(&mut self) {
        if !self.is_alive() {
            return;
        }
        let Some(child) = &mut self.child else { return };
        self.mailbox.send_queued(child);
        self.publish_room();
    }

    /// The process reports every message up to `finished` handled (those it failed on were
    /// taken out before, by their `Failed` frames).
    pub fn finished(&mut self, finished: u64) {
        self.mailbox.finished(finished);
        self.publish_room();
    }

    /// The process says it has taken `count` signals in all.
    pub fn took_signals(&mut self, count: u64) {
        let new = count.saturating_sub(self.signals_taken);
        let new = usize::try_from(new).unwrap_or(usize::MAX);
        self.signals_sent.drain(..new.min(self.signals_sent.len()));
        self.signals_taken = self.signals_taken.max(count);
    }

    /// Its process is gone, having taken `count` signals: the ones sent after those wait for
    /// the next process, before any sent since.
    pub fn keep_untaken_signals(&mut self, count: u64) {
        self.took_signals(count);
        let mut untaken: Vec<Signal> = std::mem::take(&mut self.signals_sent).into();
        untaken.append(&mut self.signals);
        self.signals = untaken;
        self.signals_taken = 0;
    }
}
