//! What a run handled, in order: the full trace if it is on, and a fingerprint of it always, so
//! that two runs can be compared cheaply.

use actor_core::ActorId;

/// One handled message in the trace: which actor handled which message (by send order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceEntry {
    /// The actor that handled it.
    pub actor: ActorId,
    /// Its sender, `None` for code outside any actor.
    pub from: Option<ActorId>,
    /// The message's system-wide send number.
    pub seq: u64,
}

/// The trace of a run and its fingerprint.
pub(crate) struct Trace {
    /// Keep every entry (costs 16 bytes a message), not only the fingerprint.
    keep: bool,
    entries: Vec<TraceEntry>,
    fingerprint: u64,
}

impl Trace {
    pub fn new(keep: bool) -> Self {
        Self {
            keep,
            entries: Vec::new(),
            fingerprint: 0,
        }
    }

    /// Records that `actor` handled message `seq` from `from`.
    pub fn record(&mut self, actor: ActorId, from: Option<ActorId>, seq: u64) {
        self.fingerprint = (self.fingerprint.rotate_left(5) ^ actor.get() ^ seq.rotate_left(32))
            .wrapping_mul(0x100_0000_01B3);
        if self.keep {
            self.entries.push(TraceEntry { actor, from, seq });
        }
    }

    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}
