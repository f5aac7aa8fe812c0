//! A direct route: shared memory through which one actor's process writes its messages for
//! another straight into that process, so that a message between two actors costs one hop and
//! one wake-up instead of two of each through the host. The host makes it (`host/routes.rs`), keeps
//! a mapping of it, and so can still read it once either process is gone: the ledger holds
//! through a `kill -9` of either end.
//!
//! ```text
//! offset 0    written   slots ever written by the sender (bit 63: closed by the host, no
//!                       more writes: the receiver is gone)
//!        64   read      slots the receiver is done with (handled, or failed and skipped)
//!        128  started   read + 1 while the receiver handles slot `read`
//!        192  slots     SLOTS slots of SLOT bytes, used as a circle: the payload's length
//!                       (u32, little-endian), then the payload, a message's own encoding
//! ```
//!
//! Positions count slots, so the counts are the ledger: `written` messages were accepted,
//! `read` were handled or dead-lettered, and a receiver that dies leaves `started` to say
//! whether the one after them was in hand (a dead letter: at most once). The receiver does not
//! copy a slot out and free it, as the host's ring does: it frees it once handled, so what a
//! dead receiver had not handled is still there for the next process.
//!
//! Fixed slots keep this simple and small; a message that does not fit one, a full route, and
//! anything but a plain send (an ask, a reply) go through the host instead, behind a fence
//! that holds them until the route's messages before them are handled (`host/routes.rs`).

use std::sync::atomic::Ordering::{Acquire, Release, SeqCst};

use ipc_channel::ipc::IpcSharedMemory;

use crate::os::mapping::Mapping;

/// Bytes a slot holds, its length word included.
pub(crate) const SLOT: usize = 128;
/// The largest payload that goes through a route.
pub(crate) const MAX_PAYLOAD: usize = SLOT - 4;
/// Slots in a route: messages its sender can write ahead of the receiver.
pub(crate) const SLOTS: u64 = 1024;

const WRITTEN: usize = 0;
const READ: usize = 64;
const STARTED: usize = 128;
const HEADER: usize = 192;
const CLOSED: u64 = 1 << 63;
const LEN: usize = HEADER + SLOT * SLOTS as usize;

/// A new, empty route (the host keeps it and sends both ends a copy).
pub(crate) fn create() -> IpcSharedMemory {
    IpcSharedMemory::from_byte(0, LEN)
}

fn mapping(memory: IpcSharedMemory) -> Option<Mapping> {
    Mapping::new(memory, HEADER, LEN)
}

/// Where slot `position` lies in the mapping.
fn offset(position: u64) -> usize {
    // The remainder is below SLOTS, so it fits a usize.
    HEADER + SLOT * (position % SLOTS) as usize
}

/// Copies the payload of slot `position` into `out` (emptied first). A length over the slot's
/// room (a sender that wrote nonsense) is cut to it: the payload then fails to decode, a
/// failure of that message only.
///
/// The slot is read through atomics (`Mapping::read_bytes`): another process may be writing it
/// meanwhile (a sender that misbehaves, or one writing a slot the host looks at before it is
/// published), which gives wrong bytes, never undefined behaviour.
fn copy_slot(route: &Mapping, position: u64, out: &mut Vec<u8>) {
    out.clear();
    let slot = offset(position);
    let mut len = [0u8; 4];
    // The slot lies within the mapping, whose length `Mapping::new` checked.
    if !route.read_bytes(slot, &mut len) {
        return;
    }
    let len = (u32::from_le_bytes(len) as usize).min(MAX_PAYLOAD);
    out.resize(len, 0);
    if !route.read_bytes(slot + 4, out) {
        out.clear();
    }
}

/// Why a message did not go into the route.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its payload is bigger than a slot's.
    TooBig,
    /// The receiver has not freed a slot yet.
    Full,
    /// The host closed the route: the receiver is gone.
    Closed,
}

/// The sender's end.
pub(crate) struct Producer {
    route: Mapping,
    written: u64,
    /// The receiver's `read` when last looked at.
    read_seen: u64,
}

impl Producer {
    /// Takes the sender's copy. `None` if it is too small to be a route.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        let route = mapping(memory)?;
        let written = route.word(WRITTEN).load(Acquire) & !CLOSED;
        Some(Self {
            route,
            written,
            read_seen: written.saturating_sub(SLOTS),
        })
    }

    /// Slots written so far: where a message sent now through the host must wait for.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes one message, and publishes it with a `SeqCst` read-modify-write (ring the
    /// receiver's bell after it).
    pub fn push(&mut self, payload: &[u8]) -> Result<(), Refused> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Refused::TooBig);
        }
        if self.written - self.read_seen >= SLOTS {
            // Bounded to what can be true: a receiver that writes nonsense gets a route that
            // looks full or empty to its sender, no more.
            let oldest = self.written.saturating_sub(SLOTS);
            self.read_seen = self
                .route
                .word(READ)
                .load(Acquire)
                .clamp(oldest, self.written);
            if self.written - self.read_seen >= SLOTS {
                return Err(Refused::Full);
            }
        }
        let len = u32::try_from(payload.len()).map_err(|_| Refused::TooBig)?;
        // The slot lies within the mapping (`offset` is below HEADER + SLOT * SLOTS, the
        // length checked in `Mapping::new`), and it is free: the receiver has said (its `read`,
        // read with Acquire) that it is done with what was written there a lap ago, and it
        // reads only below `written`, which has not moved over this slot yet. A receiver that
        // reads it anyway races atomics (`Mapping::write_bytes`), not plain writes.
        let slot = offset(self.written);
        let written = self.route.write_bytes(slot, &len.to_le_bytes())
            && self.route.write_bytes(slot + 4, payload);
        debug_assert!(written, "a slot lies within its route");
        match self.route.word(WRITTEN).compare_exchange(
            self.written,
            self.written + 1,
            SeqCst,
            Acquire,
        ) {
            Ok(_) => {
                self.written += 1;
                Ok(())
            }
            // Closed by the host (nothing else writes this word while this process lives).
            Err(_) => Err(Refused::Closed),
        }
    }
}

/// The receiver's end.
pub(crate) struct Consumer {
    route: Mapping,
    /// Slots done with: the receiver's own copy of `read`.
    read: u64,
}

impl Consumer {
    /// Takes the receiver's copy. `None` if it is too small to be a route.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        let route = mapping(memory)?;
        let read = route.word(READ).load(Acquire);
        Some(Self { route, read })
    }

    /// Slots done with.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// Whether a message waits. `SeqCst`: read after saying it sleeps (`bell.rs`).
    pub fn has_message(&self) -> bool {
        self.written() > self.read
    }

    /// Messages the sender has written so far.
    pub fn written(&self) -> u64 {
        self.route.word(WRITTEN).load(SeqCst) & !CLOSED
    }

    /// Whether the host has closed the route and every message in it is done with: nothing
    /// more will come.
    pub fn is_finished(&self) -> bool {
        let written = self.route.word(WRITTEN).load(SeqCst);
        written & CLOSED != 0 && written & !CLOSED <= self.read
    }

    /// Copies the next message's payload into `out` (emptied first) and marks it begun: should
    /// this process die before [`finish`](Self::finish), the host knows it was in hand.
    /// `false` if no message waits.
    pub fn begin(&self, out: &mut Vec<u8>) -> bool {
        if !self.has_message() {
            return false;
        }
        // The sender wrote the slot before it published `written` past it (read with SeqCst
        // above), and does not write it again until `read` moves past it.
        copy_slot(&self.route, self.read, out);
        self.route.word(STARTED).store(self.read + 1, Release);
        true
    }

    /// The message begun is done with (handled, or failed and reported): its slot is free.
    pub fn finish(&mut self) {
        self.read += 1;
        self.route.word(READ).store(self.read, Release);
    }
}

/// The host's view of a route, read and settled once the receiver is gone or done with it.
pub(crate) struct Ledger(Mapping);

/// What a route holds for a receiver whose process died.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Left {
    /// The payload of the message that was in hand, if one was.
    pub in_hand: Option<Vec<u8>>,
}

impl Ledger {
    /// The host's copy. `None` if it is too small to be a route.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        mapping(memory).map(Self)
    }

    fn read(&self) -> u64 {
        let written = self.written();
        self.0
            .word(READ)
            .load(Acquire)
            .clamp(written.saturating_sub(SLOTS), written)
    }

    /// Slots written by the sender.
    pub fn written(&self) -> u64 {
        self.0.word(WRITTEN).load(Acquire) & !CLOSED
    }

    fn payload(&self, position: u64) -> Vec<u8> {
        let mut out = Vec::new();
        copy_slot(&self.0, position, &mut out);
        out
    }

    /// The receiver's process has died: if it had begun a message and not finished it (and
    /// that message is not one the host has dead-lettered already, `dead_through`), that one
    /// is skipped and returned, to be dead-lettered. The messages after it stay for the next
    /// process. Only the host touches the route's receiving side until that process starts.
    pub fn settle_death(&self, dead_through: u64) -> Left {
        let read = self.read().max(dead_through);
        let started = self.0.word(STARTED).load(Acquire);
        let in_hand = (started == read + 1 && read < self.written()).then(|| self.payload(read));
        let read = read + u64::from(in_hand.is_some());
        self.0.word(READ).store(read, Release);
        self.0.word(STARTED).store(read, Release);
        Left { in_hand }
    }

    /// Closes the route for good (the receiver is gone, or done with it): the sender's later
    /// writes fail. Returns how many messages were written, and the payloads of those not
    /// read and not dead-lettered already (up to `dead_through`), which are dead letters.
    pub fn close(&self, dead_through: u64) -> (u64, Vec<Vec<u8>>) {
        let written = self.0.word(WRITTEN).fetch_or(CLOSED, SeqCst) & !CLOSED;
        let unread = (self.read().max(dead_through)..written)
            .map(|p| self.payload(p))
            .collect();
        (written, unread)
    }

    /// Slots the receiver is done with.
    pub fn done(&self) -> u64 {
        self.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> (Producer, Consumer, Ledger) {
        let (producer, consumer, ledger, _) = route_and_memory();
        (producer, consumer, ledger)
    }

    fn route_and_memory() -> (Producer, Consumer, Ledger, IpcSharedMemory) {
        let memory = create();
        (
            Producer::new(memory.clone()).expect("a route"),
            Consumer::new(memory.clone()).expect("a route"),
            Ledger::new(memory.clone()).expect("a route"),
            memory,
        )
    }

    /// A sender that keeps scribbling on the slot its receiver reads (lengths far over the
    /// slot's room among them): every copy the receiver takes is at most a slot's payload,
    /// and the two sides race only through atomics (`Mapping::read_bytes`, `write_bytes`).
    #[test]
    fn a_slot_scribbled_on_while_it_is_read_gives_wrong_bytes_within_the_slot() {
        let (mut producer, consumer, _, memory) = route_and_memory();
        producer.push(b"a message").expect("room");
        let scribbler = mapping(memory).expect("a route");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let scribbled = std::sync::Arc::clone(&first);
        let writer = std::thread::spawn(move || {
            let mut n: u32 = 0;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let mut garbage = [0u8; SLOT];
                for (i, byte) in garbage.iter_mut().enumerate() {
                    *byte = (n >> (i % 4 * 8)) as u8;
                }
                scribbler.write_bytes(offset(0), &garbage);
                scribbled.store(true, std::sync::atomic::Ordering::Release);
            }
        });
        // Reads begin once the slot holds garbage, so every one races the scribbler.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !first.load(std::sync::atomic::Ordering::Acquire) {
            assert!(
                std::time::Instant::now() < deadline,
                "the scribbler never wrote"
            );
            std::thread::yield_now();
        }
        let mut out = Vec::new();
        let mut lengths = std::collections::HashSet::new();
        for _ in 0..20_000 {
            assert!(consumer.begin(&mut out));
            assert!(out.len() <= MAX_PAYLOAD, "{} bytes", out.len());
            lengths.insert(out.len());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().expect("the scribbler");
        // The scribbler's lengths (most far over the room) were seen, cut to the slot.
        assert!(lengths.contains(&MAX_PAYLOAD), "{lengths:?}");
    }

    #[test]
    fn messages_come_out_in_order_across_laps() {
        let (mut producer, mut consumer, _) = route();
        let mut out = Vec::new();
        for n in 0..5 * SLOTS {
            let payload = n.to_le_bytes();
            producer
                .push(&payload[..(n % 8) as usize + 1])
                .expect("room");
            assert!(consumer.begin(&mut out));
            assert_eq!(out, payload[..(n % 8) as usize + 1]);
            consumer.finish();
        }
        assert!(!consumer.begin(&mut out));
    }

    #[test]
    fn a_full_route_refuses_until_a_slot_is_freed() {
        let (mut producer, mut consumer, _) = route();
        for _ in 0..SLOTS {
            producer.push(b"x").expect("room");
        }
        assert_eq!(producer.push(b"x"), Err(Refused::Full));
        assert_eq!(producer.push(&[0; MAX_PAYLOAD + 1]), Err(Refused::TooBig));
        let mut out = Vec::new();
        assert!(consumer.begin(&mut out));
        assert_eq!(
            producer.push(b"y"),
            Err(Refused::Full),
            "begun is not freed"
        );
        consumer.finish();
        producer.push(b"y").expect("room once finished");
    }

    #[test]
    fn a_dead_receivers_message_in_hand_is_given_up_and_the_rest_kept() {
        let (mut producer, mut consumer, ledger, memory) = route_and_memory();
        for m in [b"a", b"b", b"c"] {
            producer.push(m).expect("room");
        }
        let mut out = Vec::new();
        assert!(consumer.begin(&mut out));
        consumer.finish();
        assert!(consumer.begin(&mut out));
        drop(consumer); // dies with "b" in hand
        let left = ledger.settle_death(0);
        assert_eq!(left.in_hand.as_deref(), Some(&b"b"[..]));
        assert_eq!(ledger.done(), 2);
        // The next process starts after it.
        let mut next = Consumer::new(memory).expect("a route");
        assert!(next.begin(&mut out));
        assert_eq!(out, b"c");
        next.finish();
        // Died between messages: nothing was in hand.
        assert_eq!(ledger.settle_death(0).in_hand, None);
    }

    #[test]
    fn a_message_the_host_dead_lettered_already_is_not_given_up_twice() {
        let (mut producer, consumer, ledger) = route();
        producer.push(b"a").expect("room");
        producer.push(b"b").expect("room");
        let mut out = Vec::new();
        assert!(consumer.begin(&mut out));
        // The receiver reported a failure on "a" (the host dead-lettered it), then died.
        assert_eq!(ledger.settle_death(1).in_hand, None);
        assert_eq!(ledger.done(), 1);
    }

    #[test]
    fn a_closed_route_takes_no_more_and_its_unread_messages_are_returned() {
        let (mut producer, mut consumer, ledger) = route();
        producer.push(b"a").expect("room");
        producer.push(b"b").expect("room");
        let mut out = Vec::new();
        assert!(consumer.begin(&mut out));
        consumer.finish();
        let (written, unread) = ledger.close(0);
        assert_eq!(written, 2);
        assert_eq!(unread, vec![b"b".to_vec()]);
        assert_eq!(producer.push(b"c"), Err(Refused::Closed));
        assert_eq!(ledger.written(), 2);
    }

    #[test]
    fn a_close_leaves_out_what_the_host_dead_lettered_already() {
        let (mut producer, consumer, ledger) = route();
        producer.push(b"a").expect("room");
        producer.push(b"b").expect("room");
        let mut out = Vec::new();
        assert!(consumer.begin(&mut out));
        // The receiver reported a failure on "a" and the host gave up before it moved on.
        let (written, unread) = ledger.close(1);
        assert_eq!(written, 2);
        assert_eq!(unread, vec![b"b".to_vec()]);
    }
}
