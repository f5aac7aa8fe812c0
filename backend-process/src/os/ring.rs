//! The delivery ring: shared memory per child process into which the host writes packed
//! deliveries (`packed.rs`) and from which the child copies them. A stream of messages costs no
//! system call and no thread wake-up on either side: the host writes a record and moves an
//! index; the child, which looks for more whenever it runs out, copies what is there and moves
//! its own. Only a child that has found the ring empty and gone to sleep is woken, on its bell
//! (`bell.rs`).
//!
//! ```text
//! offset 0    write     bytes the host has ever written (a position that only grows)
//!        8    lap_end   where the records of a lap end early: a record that did not fit in
//!                       the rest of the lap went to the start of the next (0: none yet)
//!        64   sent      IPC messages the host has written (or is writing) on the socket: the
//!                       child looks at its socket only when it has read fewer
//!        128  read      bytes the child has ever taken
//!        256  records   CAPACITY bytes, used as a circle: a position's place is it modulo
//!                       CAPACITY
//! ```
//!
//! Each word that one side writes often has a cache line of its own, apart from the words the
//! other side reads often: the child reads `sent` before every message, and a line that both
//! write moves from core to core each time. With `sent`
//! beside `write`, as at first, each record cost the host a wait for that line
//! (`perf annotate`: nine tenths of `ChildLink::deliver` on the store of `write`).
//!
//! One producer (the host, under its lock) and one consumer (the child's only thread). A
//! record never straddles the end of the circle, so the child copies whole records. The ring
//! is transport only: the host keeps its own copy of every delivery until the child reports it
//! handled (the crate's `mailbox.rs`), so a child that dies, or scribbles on the ring, loses nothing and
//! misleads only itself: the host reads nothing from the ring but the child's `read`, which it
//! bounds to what it has written.
//!
//! A record bigger than [`MAX_RECORD`] does not go in the ring: the host writes a marker in its
//! place (`packed::by_socket`) and sends the record on the socket, and the child, reaching the
//! marker, takes the record from there, so the order is kept.

use std::sync::Arc;
use std::sync::atomic::compiler_fence;
use std::sync::atomic::{Ordering, Ordering::Acquire, Ordering::Release, Ordering::SeqCst};

use ipc_channel::ipc::IpcSharedMemory;

use crate::os::mapping::Mapping;

/// Bytes of records the ring holds: at about 20 bytes a small message, some 13,000 messages,
/// ten times what a child handles between two reports of progress.
pub(crate) const CAPACITY: usize = 256 * 1024;

/// The biggest record written into the ring; a bigger one goes on the socket.
pub(crate) const MAX_RECORD: usize = 16 * 1024;

const WRITE: usize = 0;
const LAP_END: usize = 8;
const SENT: usize = 64;
const READ: usize = 128;
const HEADER: usize = 256;

/// A new, empty ring for one child process (the host keeps it and sends the child a copy,
/// which maps the same memory).
pub(crate) fn create() -> IpcSharedMemory {
    IpcSharedMemory::from_byte(0, HEADER + CAPACITY)
}

/// A position's place in the records: it modulo CAPACITY.
fn place(position: u64) -> usize {
    // The remainder is below CAPACITY, so it fits a usize.
    (position % CAPACITY as u64) as usize
}

fn mapping(memory: IpcSharedMemory) -> Option<Mapping> {
    Mapping::new(memory, HEADER, HEADER + CAPACITY)
}

/// The host's side: writes records.
pub(crate) struct Producer {
    ring: Arc<Mapping>,
    /// Bytes ever written: the host's own copy of `write`.
    write: u64,
    /// The child's `read` when last looked at: the host looks again only when this leaves too
    /// little room, so a stream does not pull the child's line to the host on every record.
    read_seen: u64,
    /// How `write` is published (`bell::publish_ordering`).
    publish: Ordering,
}

impl Producer {
    /// Takes the host's copy of a ring made by [`create`]. `None` if it is too small to be one.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        let ring = Arc::new(mapping(memory)?);
        let write = ring.word(WRITE).load(Acquire);
        let mut producer = Self {
            ring,
            write,
            read_seen: write,
            publish: crate::os::bell::publish_ordering(),
        };
        producer.free();
        Some(producer)
    }

    /// The count of messages written on the socket, for whoever writes them.
    pub fn sent(&self) -> Sent {
        Sent(Arc::clone(&self.ring))
    }

    /// Bytes free as last seen: at most what is free now (the child's `read` only grows).
    fn free_seen(&self) -> usize {
        // At most CAPACITY (`free` bounds `read_seen`, and a write only takes what this says is
        // free), so it fits a usize.
        CAPACITY - (self.write - self.read_seen) as usize
    }

    /// Bytes free: what the child says it has taken, bounded to what it can have taken (a
    /// child that writes nonsense there gets a ring that looks full or empty, no more).
    fn free(&mut self) -> usize {
        let oldest = self.write.saturating_sub(CAPACITY as u64);
        self.read_seen = self.ring.word(READ).load(Acquire).clamp(oldest, self.write);
        self.free_seen()
    }

    /// At least `needed` bytes are free: known from the last look, or from a new one.
    fn has_free(&mut self, needed: usize) -> bool {
        self.free_seen() >= needed || self.free() >= needed
    }

    /// Whether the child has yet to take some of what was written.
    #[cfg(test)]
    pub fn has_unread(&mut self) -> bool {
        self.free() < CAPACITY
    }

    /// Whether any record of up to [`MAX_RECORD`] bytes fits, with the end of the lap it may
    /// have to skip.
    pub fn has_room(&mut self) -> bool {
        self.has_free(2 * MAX_RECORD)
    }

    /// Writes one record (of at most [`MAX_RECORD`] bytes) if it fits, and publishes it as the
    /// bell asks (`bell::publish_ordering`): ring the child's bell after it.
    pub fn push(&mut self, record: &[u8]) -> Result<(), Full> {
        let len = record.len();
        let mut place = place(self.write);
        let skip = if place + len > CAPACITY {
            CAPACITY - place
        } else {
            0
        };
        if len > MAX_RECORD || !self.has_free(skip + len) {
            return Err(Full);
        }
        if skip > 0 {
            // Stored before `write` moves past it, so the child that sees the new `write` sees
            // where this lap ends.
            self.ring.word(LAP_END).store(self.write, Release);
            self.write += skip as u64;
            place = 0;
        }
        // [place, place + len) lies within the records (place + len <= CAPACITY, and
        // the mapping holds HEADER + CAPACITY bytes, checked in `Mapping::new`), and it is free:
        // `has_free` (checked above) says the child had taken what was written there a lap ago
        // when the host last looked at its `read` (published by the child, read with Acquire;
        // a child that moves it back after that misleads only itself), and the child reads
        // only below `write`, which has not moved over it yet.
        // The child may scribble on its ring at any time: the host writes through atomics
        // (`Mapping::write_bytes`), so that race harms no one but the child.
        let written = self.ring.write_bytes(HEADER + place, &record[..len]);
        debug_assert!(written, "a record's place lies within the ring");
        self.write += len as u64;
        // `SeqCst`, or a release store whose fence the child completes before it sleeps
        // (`bell.rs`): either the child sees this record or the bell sees it asleep. The
        // compiler fence keeps the look at the bell, which comes next, after this store.
        self.ring.word(WRITE).store(self.write, self.publish);
        compiler_fence(SeqCst);
        Ok(())
    }
}

/// The copy, in the ring's header where the child reads it, of the host's count of IPC
/// messages written to the child's socket.
pub(crate) struct Sent(Arc<Mapping>);

impl Sent {
    /// The host has counted `count` messages (two threads write: the count only grows).
    /// `SeqCst`, a full fence on its own: the bell is rung after it.
    pub fn raise_to(&self, count: u64) {
        self.0.word(SENT).fetch_max(count, SeqCst);
    }
}

/// A record did not fit in the ring.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// Bytes a patient take waits for while the host writes on: an eighth of the ring, some
/// 1,600 small messages.
pub(crate) const SLACK: u64 = 32 * 1024;

/// How a patient take waits for the host to write [`SLACK`] bytes: in rounds of a few pauses
/// (a pause is about 10 ns here), until the host writes nothing in a round (it has paused, and
/// what it wrote is taken at once: a lone message waits one round, about a third of a
/// microsecond) or the rounds run out (some 20 µs).
struct Patience {
    pauses_a_round: u32,
    rounds: u32,
}

impl Default for Patience {
    fn default() -> Self {
        Self {
            pauses_a_round: 32,
            rounds: 64,
        }
    }
}

impl Patience {
    /// Waits, from `write` seen with `read` taken; returns the last `write` seen.
    fn wait(&self, ring: &Mapping, read: u64, mut write: u64) -> u64 {
        for _ in 0..self.rounds {
            if write - read >= SLACK {
                break;
            }
            for _ in 0..self.pauses_a_round {
                std::hint::spin_loop();
            }
            let now = ring.word(WRITE).load(Acquire);
            if now == write {
                break;
            }
            write = now;
        }
        write
    }
}

/// The child's side: takes records.
pub(crate) struct Consumer {
    ring: Mapping,
    /// Bytes ever taken: the child's own copy of `read`.
    read: u64,
}

impl Consumer {
    /// Takes the child's copy of the ring. `None` if it is too small to be one.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        let ring = mapping(memory)?;
        let read = ring.word(READ).load(Acquire);
        Some(Self { ring, read })
    }

    /// Appends to `out` every record written since the last take, and frees their room.
    /// `false` if there was none.
    ///
    /// A `patient` take of fewer than [`SLACK`] bytes first lets the host write on, while it
    /// does ([`Patience`]): a child that keeps up with a stream would otherwise take each
    /// record as it is written, from the cache line the host is writing the next one into,
    /// and each such line then moves from core to core and back. Taking at once, one-way ran
    /// 73 ns a message against 51 with patience (`process_profile one-way 10000000`, medians
    /// of three, the sender on its lease: `leased.rs`), and 88 against 58 before the lease.
    #[allow(unsafe_code)] // records are copied out of the mapping; see below
    pub fn take(&mut self, out: &mut Vec<u8>, patient: bool) -> bool {
        let mut write = self.ring.word(WRITE).load(Acquire);
        if write == self.read {
            return false;
        }
        if patient {
            write = Patience::default().wait(&self.ring, self.read, write);
        }
        while self.read < write {
            let lap_start = self.read - self.read % CAPACITY as u64;
            let lap_stop = lap_start + CAPACITY as u64;
            // The lap's early end, if the host has recorded one for this lap: an older lap's
            // is at or below `lap_start` (no lap ends at its very start: a record is smaller
            // than a lap), and a later lap's cannot be written before this side has freed the
            // room past `lap_stop`, which it has not.
            let lap_end = self.ring.word(LAP_END).load(Acquire);
            let stop = if lap_end > lap_start && (self.read..lap_stop).contains(&lap_end) {
                lap_end
            } else {
                lap_stop
            }
            .min(write);
            if stop == self.read {
                self.read = lap_stop;
                continue;
            }
            let place = place(self.read);
            // At most CAPACITY, so it fits a usize.
            let len = (stop - self.read) as usize;
            // SAFETY: [place, place + len) lies within the records (stop is within this lap)
            // and was written by the host before it published `write` (read with Acquire
            // above); the host does not write it again until `read` moves past it, below.
            let bytes =
                unsafe { std::slice::from_raw_parts(self.ring.base().add(HEADER + place), len) };
            out.extend_from_slice(bytes);
            self.read = stop;
        }
        self.ring.word(READ).store(self.read, Release);
        true
    }

    /// How many IPC messages the host has written to this side's socket, or is writing.
    /// `SeqCst`: read after saying it sleeps (`bell.rs`).
    pub fn sent(&self) -> u64 {
        self.ring.word(SENT).load(SeqCst)
    }

    /// Whether records wait to be taken. `SeqCst`: read after saying it sleeps (`bell.rs`).
    pub fn has_records(&self) -> bool {
        self.ring.word(WRITE).load(SeqCst) != self.read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Producer, Consumer) {
        let memory = create();
        let producer = Producer::new(memory.clone()).expect("a ring");
        let consumer = Consumer::new(memory).expect("a ring");
        (producer, consumer)
    }

    #[test]
    fn records_come_out_in_order_across_many_laps() {
        let (mut producer, mut consumer) = pair();
        let mut expected = Vec::new();
        let mut got = Vec::new();
        // Records of uneven sizes, so that laps end early at many different places.
        for n in 0..20_000u32 {
            let record: Vec<u8> =
                std::iter::repeat_n((n % 251) as u8, 1 + (n as usize * 37) % 4000).collect();
            if producer.push(&record).is_err() {
                assert!(consumer.take(&mut got, false));
                producer.push(&record).expect("room after a take");
            }
            expected.extend_from_slice(&record);
        }
        consumer.take(&mut got, false);
        assert_eq!(got.len(), expected.len());
        assert!(got == expected);
        assert!(!consumer.take(&mut got, false));
    }

    #[test]
    fn a_full_ring_refuses_and_a_take_makes_room() {
        let (mut producer, mut consumer) = pair();
        let record = vec![7u8; MAX_RECORD];
        let mut pushed = 0;
        while producer.has_room() {
            producer.push(&record).expect("room");
            pushed += 1;
        }
        assert_eq!(pushed, CAPACITY / MAX_RECORD - 1);
        producer
            .push(&record)
            .expect("the last record fits without a skip");
        assert_eq!(producer.push(&record), Err(Full));
        assert_eq!(producer.push(&vec![0; MAX_RECORD + 1]), Err(Full));
        let mut out = Vec::new();
        assert!(consumer.take(&mut out, false));
        assert_eq!(out.len(), CAPACITY);
        assert!(producer.has_room());
    }

    #[test]
    fn the_host_looks_at_the_childs_read_only_when_room_runs_short() {
        let (mut producer, mut consumer) = pair();
        let record = vec![3u8; 1000];
        producer.push(&record).expect("room");
        let mut out = Vec::new();
        assert!(consumer.take(&mut out, false));
        // Room enough from the first look: the child's new `read` is not looked at.
        producer.push(&record).expect("room");
        assert!(producer.has_room());
        assert_eq!(producer.read_seen, 0);
        // Fill what the first look allows; the next push must look again, and finds the room
        // the take made.
        while producer.free_seen() >= record.len() {
            producer.push(&record).expect("room");
        }
        consumer.take(&mut out, false);
        producer.push(&record).expect("room after a new look");
        assert_eq!(producer.read_seen, consumer.read);
    }

    #[test]
    fn a_consumer_that_lies_about_what_it_read_gets_no_more_room() {
        let (mut producer, consumer) = pair();
        producer.push(&[1; 100]).expect("room");
        consumer.ring.word(READ).store(u64::MAX, Release);
        assert_eq!(producer.free(), CAPACITY, "bounded to what was written");
        consumer.ring.word(READ).store(0, Release);
        producer.write += 2 * CAPACITY as u64;
        assert_eq!(producer.free(), 0, "bounded to a ring's worth");
    }
}
