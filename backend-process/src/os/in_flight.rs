//! What the host has written to an actor's process and the process has not reported handled:
//! the deliveries, packed (`packed.rs`), and where each ends, by number. A report that the
//! process has handled everything up to a number then drops those deliveries in one step,
//! however many they are, where reading each one's header to find its end cost the router a
//! walk over thousands of records under the host's lock, for every report on a stream, while
//! every sender waited for that lock.

use std::collections::VecDeque;

use crate::os::packed::{Packed, Record};
use crate::os::wire::DeliveryRef;

/// An emptied index with room for more records than this is freed rather than kept (a
/// megabyte).
const SHRINK_ABOVE: usize = 65_536;

/// The deliveries in a process's hands, oldest first.
#[derive(Default)]
pub(crate) struct InFlight {
    packed: Packed,
    /// Each record's number and where it ends, in bytes ever pushed: numbers only grow (they
    /// are taken in the order the host accepted the deliveries), so this is sorted by both.
    ends: VecDeque<(u64, u64)>,
    /// Bytes ever pushed, and ever dropped from the front.
    pushed: u64,
    dropped: u64,
}

impl InFlight {
    /// Appends a delivery; returns its record, to be written to the process.
    pub fn push(&mut self, seq: u64, delivery: &DeliveryRef<'_>) -> Result<&[u8], String> {
        let record = self.packed.push(seq, delivery)?;
        self.pushed += record.len() as u64;
        self.ends.push_back((seq, self.pushed));
        Ok(record)
    }

    /// Appends a record taken from the queue; returns its copy.
    pub fn push_record(&mut self, record: &Record<'_>) -> &[u8] {
        let copy = self.packed.push_record(record);
        self.pushed += copy.len() as u64;
        self.ends.push_back((record.seq, self.pushed));
        copy
    }

    /// The first delivery: the one the process may have in hand.
    pub fn front(&self) -> Option<Result<Record<'_>, String>> {
        self.packed.front()
    }

    /// Drops the first delivery.
    pub fn pop_front(&mut self) {
        self.drop_first(1);
    }

    /// Drops the deliveries numbered up to `seq`; returns how many.
    pub fn pop_through(&mut self, seq: u64) -> u64 {
        let count = self.ends.partition_point(|&(number, _)| number <= seq);
        self.drop_first(count);
        count as u64
    }

    fn drop_first(&mut self, count: usize) {
        let Some(&(_, end)) = count.checked_sub(1).and_then(|last| self.ends.get(last)) else {
            return;
        };
        // At most what the buffer holds: `end` is at most `pushed`, and the buffer holds the
        // bytes from `dropped` to `pushed`.
        self.packed.drop_front((end - self.dropped) as usize, count);
        self.dropped = end;
        self.ends.drain(..count);
        // As the packed buffer does (`packed.rs`): an idle actor does not keep a burst's peak.
        if self.ends.is_empty() && self.ends.capacity() > SHRINK_ABOVE {
            self.ends = VecDeque::new();
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every delivery, in order.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.packed.records()
    }

    /// Takes every delivery out, as a queue (the process is gone: they go to the next one, or
    /// are dead letters); this is left empty.
    pub fn take_all(&mut self) -> Packed {
        self.ends.clear();
        self.dropped = self.pushed;
        std::mem::take(&mut self.packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::packed::tests::message;

    #[test]
    fn a_report_drops_every_delivery_up_to_its_number_and_no_more() {
        let mut in_flight = InFlight::default();
        for seq in [3, 5, 9, 10] {
            in_flight.push(seq, &message(&[seq as u8; 7])).unwrap();
        }
        assert_eq!(in_flight.pop_through(2), 0);
        assert_eq!(in_flight.pop_through(6), 2);
        assert_eq!(in_flight.len(), 2);
        let front = in_flight.front().unwrap().unwrap();
        assert_eq!(front.seq, 9);
        assert_eq!(front.bytes.len(), 13 + 7);
        assert_eq!(in_flight.pop_through(100), 2);
        assert!(in_flight.is_empty());
        assert!(in_flight.front().is_none());
    }

    #[test]
    fn drops_track_the_buffer_through_pushes_pops_and_takes() {
        let mut in_flight = InFlight::default();
        let mut queue = Packed::default();
        // Records of many sizes, dropped in uneven runs, with the buffer compacted on the way.
        let mut expected = std::collections::VecDeque::new();
        for seq in 1..=30_000u64 {
            let payload = vec![seq as u8; (seq % 50) as usize];
            if seq % 3 == 0 {
                queue.push(seq, &message(&payload)).unwrap();
                let record = queue.front().unwrap().unwrap();
                in_flight.push_record(&record);
                queue.pop_front();
            } else {
                in_flight.push(seq, &message(&payload)).unwrap();
            }
            expected.push_back(seq);
            if seq % 997 == 0 {
                let through = seq - 400;
                let count = expected.iter().take_while(|&&s| s <= through).count();
                assert_eq!(in_flight.pop_through(through), count as u64);
                expected.drain(..count);
                in_flight.pop_front();
                expected.pop_front();
            }
            assert_eq!(in_flight.front().unwrap().unwrap().seq, expected[0]);
        }
        let seqs: Vec<u64> = in_flight.records().map(|r| r.seq).collect();
        assert!(seqs.iter().eq(expected.iter()));
        let taken = in_flight.take_all();
        assert_eq!(taken.len(), expected.len());
        assert!(in_flight.is_empty());
        in_flight.push(40_000, &message(b"again")).unwrap();
        assert_eq!(in_flight.pop_through(40_000), 1);
        assert!(in_flight.is_empty());
    }
}
