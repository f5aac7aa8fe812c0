//! The host's record of the direct routes between actors' processes (`direct.rs`): which
//! sender writes to which receiver through which memory, in what order a route's messages come
//! with those through the host, and what they count for in the ledger.
//!
//! A route's life:
//! 1. A process that has sent many plain messages to one actor through the host asks for a
//!    route to it (`ToHost::OpenRoute`); the host makes one if the receiver can take it (alive,
//!    its mailbox unbounded, of the right type) and gives it to the sender (`ToChild::Route`).
//! 2. The sender writes to it from then on, and says so (`ToHost::Switched`, in order after
//!    everything it sent through the host before). The host gives the route to the receiver
//!    (`ToChild::Source`) with a gate: the last delivery through the host that its process
//!    must have begun before it reads the route, so nothing the sender sent earlier is
//!    overtaken.
//! 3. A message the sender cannot write to the route (too big, the route full, an ask or a
//!    reply) goes through the host with a fence (`wire::Fence`): the receiver handles it after
//!    the route's messages written before it. The sender no longer writes to that route, and
//!    the receiver, past the fence, says it is done with it (`ToHost::RouteDone`).
//! 4. The route is closed and settled in the ledger when its receiver is done with it or gone:
//!    `written` messages were accepted, those the receiver read were handled (but for any it
//!    failed on, dead-lettered when they failed), and the rest are dead letters.
//!
//! Either process may die at any point: the route outlives both (the host maps it). A sender's
//! next process writes on where the last stopped; a receiver's next process reads on after the
//! message that was in hand, which is dead-lettered (`direct::Ledger::settle_death`).

use std::collections::{BTreeMap, BTreeSet};

use actor_core::{ActorId, DeadLetterReason};
use ipc_channel::ipc::IpcSharedMemory;

use crate::os::direct;
use crate::os::host::{Encoded, State};
use crate::os::wire::{Fence, RouteGrant, SourceGrant, ToChild, TypeKey};

/// Routes one process writes to, at most: each is two shared memories in its boot message,
/// whose handles ipc-channel caps at 64.
const ROUTES_PER_SENDER: usize = 8;
/// Routes one process reads from, at most.
const SOURCES_PER_RECEIVER: usize = 16;

/// One direct route.
pub(crate) struct Route {
    pub from: ActorId,
    pub to: ActorId,
    pub msg_type: TypeKey,
    memory: IpcSharedMemory,
    ledger: direct::Ledger,
    /// Set when the sender said it writes to the route: the receiver's last delivery through
    /// the host then. The receiver is given the route only once this is known.
    pub gate: Option<u64>,
    /// The sender fenced the route off after this many messages.
    pub closing_at: Option<u64>,
    /// Messages of the route dead-lettered because the receiver failed on them (counted in the
    /// receiver's ledger when they failed), and the place after the last of them.
    dead: u64,
    dead_through: u64,
}

/// What a closed route counts for in its receiver's ledger, and its unread messages' payloads
/// (dead letters).
pub(crate) struct Settled {
    pub accepted: u64,
    pub handled: u64,
    pub unread: Vec<Vec<u8>>,
}

/// Every route, by number.
#[derive(Default)]
pub(crate) struct Routes {
    by_number: BTreeMap<u32, Route>,
    /// Routes whose sender writes no more (fenced off, or gone): closed once their receiver
    /// has read them to the end ([`Routes::drained`]), even if it never learns they ended (a
    /// fenced message the host refused, a reply that came too late, a sender that stopped).
    closing: BTreeSet<u32>,
    next: u32,
}

impl Routes {
    /// Makes a route from `from` to `to`, unless one is open between them already or either
    /// has as many as it may. The caller has checked that the receiver can take one.
    pub fn open(
        &mut self,
        from: ActorId,
        to: ActorId,
        msg_type: TypeKey,
    ) -> Option<(u32, IpcSharedMemory)> {
        let open = |r: &&Route| r.closing_at.is_none();
        let from_count = self.by_number.values().filter(|r| r.from == from).count();
        let to_count = self.by_number.values().filter(|r| r.to == to).count();
        let between = self
            .by_number
            .values()
            .filter(open)
            .any(|r| r.from == from && r.to == to);
        if from == to
            || between
            || from_count >= ROUTES_PER_SENDER
            || to_count >= SOURCES_PER_RECEIVER
        {
            return None;
        }
        let memory = direct::create();
        let ledger = direct::Ledger::new(memory.clone())?;
        self.next += 1;
        let number = self.next;
        self.by_number.insert(
            number,
            Route {
                from,
                to,
                msg_type,
                memory: memory.clone(),
                ledger,
                gate: None,
                closing_at: None,
                dead: 0,
                dead_through: 0,
            },
        );
        Some((number, memory))
    }

    /// The receiver of `route`.
    pub fn receiver(&self, route: u32) -> Option<ActorId> {
        self.by_number.get(&route).map(|r| r.to)
    }

    /// The sender of `route`.
    pub fn sender(&self, route: u32) -> Option<ActorId> {
        self.by_number.get(&route).map(|r| r.from)
    }

    /// The sender of `route` (which must be `from`) writes to it from now on, after every
    /// delivery through the host up to `last`. Returns what to give the receiver's process,
    /// which has `pending` to handle (`gate_among`).
    pub fn switched(
        &mut self,
        from: ActorId,
        route: u32,
        last: u64,
        pending: &[u64],
    ) -> Option<(ActorId, SourceGrant)> {
        let r = self.by_number.get_mut(&route).filter(|r| r.from == from)?;
        if r.gate.is_some() {
            return None;
        }
        r.gate = Some(last);
        Some((
            r.to,
            SourceGrant {
                route,
                memory: r.memory.clone(),
                gate: gate_among(pending, last),
            },
        ))
    }

    /// Whether `fence`, on a message from `from` to `to`, names a route between them; if so,
    /// its sender has stopped writing to it at the fence.
    pub fn fenced(&mut self, from: ActorId, to: ActorId, fence: Fence) -> bool {
        match self.by_number.get_mut(&fence.route) {
            Some(r) if r.from == from && r.to == to => {
                r.closing_at = Some(fence.written);
                self.closing.insert(fence.route);
                true
            }
            _ => false,
        }
    }

    /// `from` is gone for good: it writes to its routes no more.
    pub fn sender_gone(&mut self, from: ActorId) {
        for (&number, r) in &mut self.by_number {
            if r.from == from && r.closing_at.is_none() {
                r.closing_at = Some(r.ledger.written());
                self.closing.insert(number);
            }
        }
    }

    /// The routes whose sender writes no more and whose receiver has read them to the end:
    /// their numbers and receivers, to close with [`done`](Self::done).
    pub fn drained(&self) -> Vec<(u32, ActorId)> {
        self.closing
            .iter()
            .filter_map(|n| {
                let r = self.by_number.get(n)?;
                let end = r.closing_at?.max(r.ledger.written());
                (r.ledger.done() >= end).then_some((*n, r.to))
            })
            .collect()
    }

    /// The routes a new process of `from` writes to: the open ones (a fenced one is the
    /// receiver's to finish). `bell` gives each receiver's bell.
    pub fn grants_for_sender(
        &self,
        from: ActorId,
        bell: impl Fn(ActorId) -> Option<IpcSharedMemory>,
    ) -> Vec<RouteGrant> {
        self.by_number
            .iter()
            .filter(|(_, r)| r.from == from && r.closing_at.is_none())
            .filter_map(|(&route, r)| {
                Some(RouteGrant {
                    to: r.to,
                    route,
                    msg_type: r.msg_type,
                    memory: r.memory.clone(),
                    bell: bell(r.to)?,
                    switched: r.gate.is_some(),
                })
            })
            .collect()
    }

    /// The routes a new process of `to` reads from, each with its gate (`gate_among`).
    pub fn grants_for_receiver(&self, to: ActorId, pending: &[u64]) -> Vec<SourceGrant> {
        self.by_number
            .iter()
            .filter(|(_, r)| r.to == to)
            .filter_map(|(&route, r)| {
                Some(SourceGrant {
                    route,
                    memory: r.memory.clone(),
                    gate: gate_among(pending, r.gate?),
                })
            })
            .collect()
    }

    /// The receiver of `route` failed on the message at `place` (and reported it): it is a
    /// dead letter, counted by the caller. `false` if the report names no such route of `to`.
    pub fn failed_on(&mut self, to: ActorId, route: u32, place: u64) -> bool {
        match self.by_number.get_mut(&route) {
            Some(r) if r.to == to && place >= r.dead_through => {
                r.dead += 1;
                r.dead_through = place + 1;
                true
            }
            _ => false,
        }
    }

    /// The process of `to` died: the messages of its routes that were in hand, each now a dead
    /// letter (counted by the caller); the routes' other messages wait for the next process.
    pub fn receiver_died(&mut self, to: ActorId) -> Vec<Vec<u8>> {
        let mut in_hand = Vec::new();
        for r in self.by_number.values_mut().filter(|r| r.to == to) {
            if let Some(payload) = r.ledger.settle_death(r.dead_through).in_hand {
                r.dead += 1;
                r.dead_through = r.ledger.done();
                in_hand.push(payload);
            }
        }
        in_hand
    }

    /// Closes and forgets every route to `to`, which is gone; returns what they count for.
    pub fn close_to(&mut self, to: ActorId) -> Settled {
        let numbers: Vec<u32> = self
            .by_number
            .iter()
            .filter(|(_, r)| r.to == to)
            .map(|(&n, _)| n)
            .collect();
        let mut settled = Settled {
            accepted: 0,
            handled: 0,
            unread: Vec::new(),
        };
        for number in numbers {
            if let Some(one) = self.close(number) {
                settled.accepted += one.accepted;
                settled.handled += one.handled;
                settled.unread.extend(one.unread);
            }
        }
        settled
    }

    /// The receiver `to` is done with `route`. `None` if it names no route of `to`.
    pub fn done(&mut self, to: ActorId, route: u32) -> Option<Settled> {
        if self.by_number.get(&route)?.to != to {
            return None;
        }
        self.close(route)
    }

    fn close(&mut self, number: u32) -> Option<Settled> {
        let r = self.by_number.remove(&number)?;
        self.closing.remove(&number);
        let (written, unread) = r.ledger.close(r.dead_through);
        let read = written - unread.len() as u64;
        Some(Settled {
            accepted: written,
            handled: read.saturating_sub(r.dead),
            unread,
        })
    }

    /// Routes open, and those of them whose sender writes to them.
    pub fn counts(&self) -> (usize, usize) {
        let switched = self.by_number.values().filter(|r| r.gate.is_some()).count();
        (self.by_number.len(), switched)
    }

    /// Whether a route into `to` holds a message its receiver has not finished with.
    pub fn has_unread_to(&self, to: ActorId) -> bool {
        self.by_number
            .values()
            .any(|r| r.to == to && r.ledger.written() > r.ledger.done())
    }

    /// Whether any route reads into `to`.
    pub fn any_to(&self, to: ActorId) -> bool {
        self.by_number.values().any(|r| r.to == to)
    }
}

/// A receiver's process's gate for a route whose sender switched after delivery `last`: of
/// the deliveries through the host that process is still to begin or has begun and not
/// reported (`pending`, the host's numbers, in order), the last one up to `last` (0 if none).
/// Those after `last` came after the switch; those not pending were handled by it or by an
/// earlier process, and waiting for them would be waiting for ever.
fn gate_among(pending: &[u64], last: u64) -> u64 {
    pending
        .iter()
        .copied()
        .filter(|&s| s <= last)
        .max()
        .unwrap_or(0)
}

impl State {
    /// `from` asks for a direct route to `to`: made and given to it if `to` can take one (a
    /// live actor of that message type with an unbounded mailbox: a bounded one's room is
    /// counted by the host). A refusal is silence: the sender goes on through the host.
    pub(crate) fn open_route(&mut self, from: ActorId, to: ActorId, msg_type: TypeKey) {
        let fits = self
            .slot(to)
            .is_some_and(|s| s.is_alive() && s.capacity.is_none() && s.type_key == msg_type);
        if !fits || self.slot(from).is_none_or(|s| s.child.is_none()) {
            return;
        }
        // Routes no longer written to and read to the end make room first.
        for (route, receiver) in self.routes.drained() {
            self.on_route_done(receiver, route);
        }
        let Some(bell) = self.bell_of(to) else { return };
        let Some((route, memory)) = self.routes.open(from, to, msg_type) else {
            return;
        };
        if let Some(child) = self.slot(from).and_then(|s| s.child.as_ref()) {
            child.send(ToChild::Route(RouteGrant {
                to,
                route,
                msg_type,
                memory,
                bell,
                switched: false,
            }));
        }
    }

    /// The bell of `to`'s processes (the same for each), made on first need.
    pub(crate) fn bell_of(&mut self, to: ActorId) -> Option<IpcSharedMemory> {
        let slot = self.slot_mut(to)?;
        Some(
            slot.bell
                .get_or_insert_with(crate::os::bell::create)
                .clone(),
        )
    }

    /// `from` writes to `route` from now on: the receiver is given it, behind everything
    /// accepted for it so far.
    pub(crate) fn on_switched(&mut self, from: ActorId, route: u32) {
        let Some(to) = self.routes.receiver(route) else {
            return;
        };
        let Some(slot) = self.slot(to) else { return };
        let (last, pending) = (slot.mailbox.last_seq, slot.mailbox.pending());
        let Some((to, grant)) = self.routes.switched(from, route, last, &pending) else {
            return;
        };
        // Without a process now, the receiver's next one gets it at boot.
        if let Some(child) = self.slot(to).and_then(|s| s.child.as_ref()) {
            child.send_counted(ToChild::Source(grant));
        }
    }

    /// `to` is done with `route`: settled in its ledger.
    pub(crate) fn on_route_done(&mut self, to: ActorId, route: u32) {
        if let Some(settled) = self.routes.done(to, route) {
            self.count_settled(to, settled, DeadLetterReason::ReceiverGone);
        }
    }

    /// `to` reported a failure on the message at `place` of `route`: a dead letter.
    pub(crate) fn failed_on_direct(&mut self, to: ActorId, route: u32, place: u64) {
        if self.routes.failed_on(to, route, place) {
            if let Some(slot) = self.slot_mut(to) {
                slot.mailbox.ledger.dead_letters += 1;
            }
            self.records
                .dead_letter(to, DeadLetterReason::FailedWhileHandling, None);
        }
    }

    /// A message `to` read from `route` did not decode: the route's sender wrote it, as it
    /// would have written a frame that does not decode, and it is the sender that fails
    /// (`on_bad_frame`); `to` goes on, and the message is a dead letter on its account. Once
    /// per message (a report replayed from a dead receiver's journal is not counted again),
    /// and only while the sender has a process to fail: one already dead or restarting has
    /// failed already. (The route outlives processes, so a sender whose process that wrote the
    /// message has died since has its next one failed.)
    pub(crate) fn undecodable_on_direct(
        &mut self,
        to: ActorId,
        route: u32,
        place: u64,
        error: &str,
    ) {
        if self.routes.receiver(route) != Some(to) || !self.routes.failed_on(to, route, place) {
            return;
        }
        if let Some(slot) = self.slot_mut(to) {
            slot.mailbox.ledger.dead_letters += 1;
        }
        self.records
            .dead_letter(to, DeadLetterReason::Undeliverable, None);
        if let Some(from) = self.routes.sender(route)
            && self.slot(from).is_some_and(|s| s.child.is_some())
        {
            let why =
                format!("undecodable: a message it wrote to actor {to}'s direct route ({error})");
            self.on_bad_frame(from, &why);
        }
    }

    /// `to`'s process died: what it had in hand from its routes is dead-lettered.
    pub(crate) fn settle_routes_of_dead(&mut self, to: ActorId) {
        for payload in self.routes.receiver_died(to) {
            if let Some(slot) = self.slot_mut(to) {
                slot.mailbox.ledger.dead_letters += 1;
            }
            self.records.dead_letter(
                to,
                DeadLetterReason::FailedWhileHandling,
                Some(Box::new(Encoded(payload))),
            );
        }
    }

    /// `to` is gone: its routes are closed, and what they held is settled in its ledger.
    pub(crate) fn close_routes_to(&mut self, to: ActorId, dead: DeadLetterReason) {
        if self.routes.any_to(to) {
            let settled = self.routes.close_to(to);
            self.count_settled(to, settled, dead);
        }
    }

    fn count_settled(&mut self, to: ActorId, settled: Settled, dead: DeadLetterReason) {
        if let Some(slot) = self.slot_mut(to) {
            slot.mailbox.ledger.accepted += settled.accepted;
            slot.mailbox.ledger.handled += settled.handled;
            slot.mailbox.ledger.dead_letters += settled.unread.len() as u64;
        }
        for payload in settled.unread {
            self.records
                .dead_letter(to, dead, Some(Box::new(Encoded(payload))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_is_the_last_pending_delivery_from_before_the_switch() {
        assert_eq!(gate_among(&[3, 5, 9], 7), 5);
        assert_eq!(gate_among(&[3, 5, 9], 9), 9);
        // Everything from before the switch was handled (by this process or an earlier one):
        // nothing to wait for.
        assert_eq!(gate_among(&[8, 9], 7), 0);
        assert_eq!(gate_among(&[], 7), 0);
    }

    #[test]
    fn routes_are_one_way_per_pair_and_bounded_per_sender() {
        let mut routes = Routes::default();
        let (a, b) = (ActorId::new(1), ActorId::new(2));
        let key = TypeKey::of::<u64>();
        assert!(routes.open(a, a, key).is_none(), "no route to itself");
        let (first, _) = routes.open(a, b, key).expect("a route");
        assert!(routes.open(a, b, key).is_none(), "one open route a pair");
        assert!(
            routes.open(b, a, key).is_some(),
            "the other way is another pair"
        );
        assert!(routes.fenced(
            a,
            b,
            Fence {
                route: first,
                written: 0
            }
        ));
        assert!(
            routes.open(a, b, key).is_some(),
            "a fenced route makes room for a new one"
        );
        for n in 3..=ROUTES_PER_SENDER as u64 {
            assert!(routes.open(a, ActorId::new(n), key).is_some());
        }
        assert!(
            routes.open(a, ActorId::new(99), key).is_none(),
            "{ROUTES_PER_SENDER} at most"
        );
        assert_eq!(routes.counts(), (ROUTES_PER_SENDER + 1, 0));
    }
}
