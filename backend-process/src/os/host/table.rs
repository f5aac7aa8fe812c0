//! The host's table of actors ([`ActorTable`]): each actor's record by id, which actor each
//! child channel belongs to, and the numbers the table hands out (a delivery's, a process's
//! incarnation).

use std::collections::HashMap;

use actor_core::ActorId;

use super::Slot;

/// Every actor the host has spawned, by id (ids are indices, never reused), with the channels
/// of their running processes.
pub(crate) struct ActorTable {
    slots: Vec<Slot>,
    by_channel: HashMap<u64, ActorId>,
    /// The number of the last delivery accepted, for any actor.
    last_seq: u64,
    next_incarnation: u64,
}

impl Default for ActorTable {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            by_channel: HashMap::new(),
            last_seq: 0,
            next_incarnation: 1,
        }
    }
}

impl ActorTable {
    pub fn get(&self, id: ActorId) -> Option<&Slot> {
        self.slots.get(usize::try_from(id.get()).ok()?)
    }

    pub fn get_mut(&mut self, id: ActorId) -> Option<&mut Slot> {
        self.slots.get_mut(usize::try_from(id.get()).ok()?)
    }

    /// The id the next actor recorded will have.
    pub fn next_id(&self) -> ActorId {
        ActorId::new(self.slots.len() as u64)
    }

    /// Records an actor, whose id must be [`next_id`](Self::next_id).
    pub fn push(&mut self, slot: Slot) {
        debug_assert_eq!(slot.id, self.next_id());
        self.slots.push(slot);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.slots.iter_mut()
    }

    /// The actor whose process talks on `channel`.
    pub fn actor_of(&self, channel: u64) -> Option<ActorId> {
        self.by_channel.get(&channel).copied()
    }

    /// `channel` is now the channel of actor `id`'s process.
    pub fn listen(&mut self, channel: u64, id: ActorId) {
        self.by_channel.insert(channel, id);
    }

    /// `channel` closed: the actor it belonged to, if any.
    pub fn forget(&mut self, channel: u64) -> Option<ActorId> {
        self.by_channel.remove(&channel)
    }

    /// The number of a delivery just accepted: one more than the last, for any actor.
    pub fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// The incarnation of a process about to be booted: no two share one.
    pub fn next_incarnation(&mut self) -> u64 {
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        incarnation
    }
}
