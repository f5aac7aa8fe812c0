//! Deliveries packed back to back in one buffer: the form in which the host keeps what it has
//! accepted for a child and what the child has not yet confirmed, in which it writes them (a
//! run of records is one IPC message), and in which the child reads them, decoding each message
//! where it lies. A message costs no allocation of its own on either side, and confirming a run
//! of them only moves an offset.
//!
//! ```text
//! record  seq   u64, little-endian   the host's number for the delivery
//!         len   u32, little-endian   the length of the body
//!         kind  u8                   PLAIN, ENCODED or BY_SOCKET
//!         body  PLAIN: the message's own bytes (a `Message` that is not an ask)
//!               ENCODED: a postcard-encoded `DeliveryRef` (an ask, or an ask's outcome)
//!               BY_SOCKET: none; the record itself comes on the socket (`ring.rs`)
//! ```
//! The fixed header lets the host pass over records (to confirm them, to copy them) without
//! decoding their bodies. Most deliveries are plain messages: written and read as they are,
//! with no encoding around them, they cost the sender and the child a few percent less CPU
//! each (measured on the one-way stream).

use crate::os::wire::{Bytes, DeliveryRef};

const HEADER: usize = 13;

/// The body is a message's bytes: `DeliveryRef::Message` with no `ask`.
const PLAIN: u8 = 0;
/// The body is a postcard-encoded `DeliveryRef`.
const ENCODED: u8 = 1;
/// A marker in the ring, in place of a record too big for it, which comes on the socket.
const BY_SOCKET: u8 = 2;

/// The marker that stands in the ring for `record`, sent on the socket instead: its number,
/// no body.
pub(crate) fn by_socket(record: &[u8]) -> [u8; HEADER] {
    let mut marker = [0; HEADER];
    if let Some(seq) = record.get(..8) {
        marker[..8].copy_from_slice(seq);
    }
    marker[12] = BY_SOCKET;
    marker
}

/// Once this many bytes at the front have been read, they are dropped (when they are also more
/// than half the buffer, so each byte is moved at most once on average).
const COMPACT_AFTER: usize = 64 * 1024;

/// An emptied buffer with more room than this is freed rather than kept.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// One record, read in place.
pub(crate) struct Record<'a> {
    pub seq: u64,
    /// The whole record, header included, as it is copied from one buffer to another.
    pub bytes: &'a [u8],
    kind: u8,
    body: &'a [u8],
}

impl<'a> Record<'a> {
    /// Reads the record at the start of `bytes`. `None` if they do not hold a whole one.
    fn at(bytes: &'a [u8]) -> Option<Self> {
        let seq = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let len = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
        let kind = *bytes.get(12)?;
        let end = HEADER.checked_add(usize::try_from(len).ok()?)?;
        Some(Self {
            seq,
            bytes: bytes.get(..end)?,
            kind,
            body: bytes.get(HEADER..end)?,
        })
    }

    /// Whether this is a plain message (no ask, no fence): its body is the message.
    pub fn is_plain(&self) -> bool {
        self.kind == PLAIN
    }

    /// A plain message's body: the message's own bytes.
    pub fn plain_body(&self) -> Option<&'a [u8]> {
        self.is_plain().then_some(self.body)
    }

    /// Whether this is a marker for a record that comes on the socket.
    pub fn is_by_socket(&self) -> bool {
        self.kind == BY_SOCKET
    }

    /// The delivery, borrowed from the buffer.
    pub fn delivery(&self) -> Result<DeliveryRef<'a>, String> {
        match self.kind {
            PLAIN => Ok(DeliveryRef::Message {
                payload: Bytes(self.body),
                ask: None,
                after: None,
            }),
            ENCODED => postcard::from_bytes(self.body)
                .map_err(|e| format!("cannot decode a delivery: {e}")),
            other => Err(format!("a delivery of unknown kind {other}")),
        }
    }
}

/// A queue of records in one buffer.
#[derive(Default)]
pub(crate) struct Packed {
    bytes: Vec<u8>,
    /// Where the first record not yet taken begins.
    start: usize,
    records: usize,
}

impl Packed {
    /// A queue holding what another process sent. Only the framing is looked at here (bytes
    /// past the last whole record are read as an error when they are reached).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let mut queue = Self {
            bytes,
            start: 0,
            records: 0,
        };
        queue.records = queue.records().count();
        queue
    }

    /// Fills an emptied queue, in the buffer it keeps, with what `fill` appends to it (what
    /// another process sent); `fill` says whether it appended anything. A reader that empties
    /// its queue and fills it again costs no allocation.
    pub fn refill(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        debug_assert!(self.is_empty(), "only an emptied queue is refilled");
        self.bytes.clear();
        self.start = 0;
        if !fill(&mut self.bytes) {
            return false;
        }
        self.records = self.records().count();
        true
    }

    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.bytes.len()
    }

    /// Appends a delivery; returns its record. Nothing is appended on error (an encoding that
    /// failed, or a body over 4 GiB).
    pub fn push(&mut self, seq: u64, delivery: &DeliveryRef<'_>) -> Result<&[u8], String> {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&seq.to_le_bytes());
        self.bytes.extend_from_slice(&[0; 4]);
        let encoded = match delivery {
            DeliveryRef::Message {
                payload: Bytes(payload),
                ask: None,
                after: None,
            } => {
                self.bytes.push(PLAIN);
                self.bytes.extend_from_slice(payload);
                Ok(())
            }
            _ => {
                self.bytes.push(ENCODED);
                postcard::serialize_with_flavor(delivery, Append(&mut self.bytes))
            }
        };
        let len = u32::try_from(self.bytes.len() - at - HEADER);
        match (encoded, len) {
            (Ok(()), Ok(len)) => {
                self.bytes[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
                self.records += 1;
                Ok(&self.bytes[at..])
            }
            (encoded, _) => {
                self.bytes.truncate(at);
                Err(match encoded {
                    Err(e) => format!("cannot encode a delivery: {e}"),
                    Ok(()) => "a delivery over 4 GiB".to_string(),
                })
            }
        }
    }

    /// Appends a record read from another queue; returns its copy.
    pub fn push_record(&mut self, record: &Record<'_>) -> &[u8] {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(record.bytes);
        self.records += 1;
        &self.bytes[at..]
    }

    /// The first record. `Err` if the bytes there are not one (what follows cannot be framed).
    pub fn front(&self) -> Option<Result<Record<'_>, String>> {
        let rest = self
            .bytes
            .get(self.start..)
            .filter(|rest| !rest.is_empty())?;
        Some(Record::at(rest).ok_or_else(|| "a truncated delivery".to_string()))
    }

    /// Drops the first record (or, if the bytes there are not one, everything).
    pub fn pop_front(&mut self) {
        let taken = match self.front() {
            Some(Ok(record)) => record.bytes.len(),
            Some(Err(_)) => self.bytes.len() - self.start,
            None => return,
        };
        self.drop_front(taken, 1);
    }

    /// Drops the first `taken` bytes, `records` records, not yet read (bounded to what is
    /// left).
    pub fn drop_front(&mut self, taken: usize, records: usize) {
        debug_assert!(taken <= self.bytes.len() - self.start, "more than is left");
        let taken = taken.min(self.bytes.len() - self.start);
        if taken == 0 {
            return;
        }
        self.start += taken;
        self.records = self.records.saturating_sub(records);
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
            // After a burst or one big message, an idle actor does not keep the peak for the
            // life of its process.
            if self.bytes.capacity() > SHRINK_ABOVE {
                self.bytes = Vec::new();
            }
        } else if self.start >= COMPACT_AFTER && self.start * 2 >= self.bytes.len() {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
    }

    /// Every record, in order.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        let mut rest = self.bytes.get(self.start..).unwrap_or_default();
        std::iter::from_fn(move || {
            let record = Record::at(rest)?;
            rest = &rest[record.bytes.len()..];
            Some(record)
        })
    }

    /// Moves every record of `self` after those of `front` (what a dead process had in hand
    /// goes back before what waited for it).
    pub fn put_after(&mut self, mut front: Packed) {
        for record in self.records() {
            front.push_record(&record);
        }
        *self = front;
    }
}

/// A postcard output that appends to a `Vec` it borrows.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Encodes a value at the end of `out` (a buffer kept for reuse, not one per message).
pub(crate) fn encode_into<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    postcard::serialize_with_flavor(value, Append(out))
        .map_err(|e| format!("cannot encode a {}: {e}", std::any::type_name::<T>()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use actor_core::{AskError, Asker};

    /// A plain message's delivery, for tests here and in `in_flight.rs`.
    pub(crate) fn message(payload: &[u8]) -> DeliveryRef<'_> {
        DeliveryRef::Message {
            payload: Bytes(payload),
            ask: None,
            after: None,
        }
    }

    #[test]
    fn an_emptied_queue_is_refilled_in_the_buffer_it_kept() {
        let mut sent = Packed::default();
        for seq in 1..=40 {
            sent.push(seq, &message(b"0123456789")).unwrap();
        }
        let mut reading = Packed::from_bytes(sent.bytes.clone());
        while !reading.is_empty() {
            reading.pop_front();
        }
        let kept = reading.bytes.as_ptr();
        assert!(!reading.refill(|_| false), "nothing came");
        assert!(reading.refill(|bytes| {
            bytes.extend_from_slice(&sent.bytes);
            true
        }));
        assert_eq!(reading.bytes.as_ptr(), kept, "no new buffer");
        assert_eq!(reading.len(), 40);
        assert_eq!(reading.front().unwrap().unwrap().seq, 1);
    }

    #[test]
    fn records_come_out_in_order_with_their_bodies() {
        let mut queue = Packed::default();
        queue.push(3, &message(b"abc")).unwrap();
        let outcome = DeliveryRef::AskOutcome {
            request: 9,
            outcome: Err(AskError::ReceiverStopped),
            after: None,
        };
        queue.push(5, &outcome).unwrap();
        queue
            .push(
                8,
                &DeliveryRef::Message {
                    payload: Bytes(b""),
                    ask: Some((Asker::External, 4)),
                    after: None,
                },
            )
            .unwrap();
        let fence = crate::os::wire::Fence {
            route: 2,
            written: 7,
        };
        queue
            .push(
                9,
                &DeliveryRef::Message {
                    payload: Bytes(b"fenced"),
                    ask: None,
                    after: Some(fence),
                },
            )
            .unwrap();
        assert_eq!(queue.len(), 4);
        let first = queue.front().unwrap().unwrap();
        assert_eq!(first.seq, 3);
        assert!(matches!(
            first.delivery().unwrap(),
            DeliveryRef::Message {
                payload: Bytes(b"abc"),
                ask: None,
                after: None,
            }
        ));
        queue.pop_front();
        queue.pop_front();
        let last = queue.front().unwrap().unwrap();
        assert_eq!(last.seq, 8);
        assert!(matches!(
            last.delivery().unwrap(),
            DeliveryRef::Message {
                ask: Some((Asker::External, 4)),
                ..
            }
        ));
        queue.pop_front();
        let fenced = queue.front().unwrap().unwrap();
        assert!(matches!(
            fenced.delivery().unwrap(),
            DeliveryRef::Message {
                payload: Bytes(b"fenced"),
                after: Some(f),
                ..
            } if f == fence
        ));
        queue.pop_front();
        assert!(queue.is_empty());
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_queue_put_after_another_keeps_both_orders() {
        let (mut back, mut front) = (Packed::default(), Packed::default());
        back.push(7, &message(b"b")).unwrap();
        front.push(2, &message(b"a")).unwrap();
        back.put_after(front);
        let seqs: Vec<u64> = back.records().map(|r| r.seq).collect();
        assert_eq!(seqs, [2, 7]);
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn bytes_that_are_not_records_are_an_error_not_a_panic() {
        // A length past the end.
        let mut queue = Packed::from_bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 1, 0]);
        assert!(queue.front().unwrap().is_err());
        queue.pop_front();
        assert!(queue.is_empty());
        // An encoded body that is not a delivery.
        let mut queue = Packed::from_bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, ENCODED, 0xFF]);
        let record = queue.front().unwrap().unwrap();
        assert!(record.delivery().is_err());
        queue.pop_front();
        assert!(queue.front().is_none());
        // A kind that does not exist.
        let queue = Packed::from_bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        let record = queue.front().unwrap().unwrap();
        assert!(record.delivery().is_err());
    }

    #[test]
    fn an_emptied_buffer_does_not_keep_a_big_messages_room() {
        let mut queue = Packed::default();
        queue.push(1, &message(&vec![7; 2 * SHRINK_ABOVE])).unwrap();
        queue.pop_front();
        assert!(queue.is_empty());
        assert_eq!(queue.bytes.capacity(), 0);
        queue.push(2, &message(b"small")).unwrap();
        queue.pop_front();
        assert!(
            queue.bytes.capacity() > 0,
            "a small buffer is kept for the next message"
        );
    }

    #[test]
    fn the_front_is_dropped_once_read_far_enough() {
        let mut queue = Packed::default();
        let payload = vec![7u8; 1000];
        for seq in 0..200 {
            queue.push(seq, &message(&payload)).unwrap();
        }
        for _ in 0..150 {
            queue.pop_front();
        }
        assert!(queue.start < COMPACT_AFTER + 2000);
        assert_eq!(queue.front().unwrap().unwrap().seq, 150);
        assert_eq!(queue.records().count(), 50);
    }
}
