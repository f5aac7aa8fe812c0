//! One actor's mailbox on the host: what it has accepted and not yet sent to its process (the
//! packed queue, `os/packed.rs`), what its process holds and has not reported handled
//! (`os/in_flight.rs`), and the ledger those are counted in. The host's record of the actor
//! (`os/host/slot.rs`) owns it, with the link its deliveries go through.

use actor_core::Ledger;

use crate::os::in_flight::InFlight;
use crate::os::link::ChildLink;
use crate::os::packed::Packed;

/// An actor's queue of accepted messages and its ledger.
#[derive(Default)]
pub(crate) struct Mailbox {
    /// Accepted, not yet sent to the process.
    pub queue: Packed,
    /// Sent to the process, not yet reported handled; the first one may be in hand.
    pub in_flight: InFlight,
    pub ledger: Ledger,
    /// The number of the last delivery accepted (`ActorTable::next_seq`).
    pub last_seq: u64,
}

impl Mailbox {
    /// The places a bounded mailbox has freed: every delivery handled or dead-lettered, and the
    /// one in hand if it has a process (a bound counts the messages that wait, not the one its
    /// process is handling).
    #[inline]
    pub fn freed(&self, has_process: bool) -> u64 {
        let in_hand = u64::from(has_process && !self.in_flight.is_empty());
        self.ledger.handled + self.ledger.dead_letters + in_hand
    }

    /// Writes the queue to the process, as far as its link has room (the host keeps each
    /// delivery in flight until the process reports it handled).
    pub fn send_queued(&mut self, child: &mut ChildLink) {
        while child.has_room() {
            match self.queue.front() {
                Some(Ok(record)) => child.deliver(self.in_flight.push_record(&record)),
                // Not a record (the host wrote it, so this cannot be): dropped, not kept for
                // ever.
                Some(Err(_)) => {}
                None => break,
            }
            self.queue.pop_front();
        }
    }

    /// The process reports every message up to `finished` handled.
    pub fn finished(&mut self, finished: u64) {
        self.ledger.handled += self.in_flight.pop_through(finished);
    }

    /// The numbers of the deliveries accepted and not reported handled, in order: those in
    /// its process's hands, then those queued.
    pub fn pending(&self) -> Vec<u64> {
        self.in_flight
            .records()
            .chain(self.queue.records())
            .map(|r| r.seq)
            .collect()
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }
}
