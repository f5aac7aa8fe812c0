//! The journal: a page of shared memory per child process that the host can still read after
//! the child is gone, even by `kill -9`. It is what lets a child confirm and send in batches
//! without ever losing a message: the child records in it which message it has started and
//! which it has finished, and it writes every frame it sends there first; the frames leave by
//! IPC in one write per batch.
//!
//! ```text
//! offset 0   started   the seq of the last message whose handler began
//!        8   finished  the seq of the last message whose handler ended (returned or failed)
//!        16  batch     the number of the batch now in the outbox
//!        24  len       how many bytes of the outbox hold whole frames
//!        32  signals   how many signals this process has taken (begun handling)
//!        64  outbox    postcard-encoded `ToHost` frames, back to back
//! ```
//!
//! After the child's death the host reads the journal once: `started > finished` names the
//! message that was in hand (dead-lettered); later ones were never started (kept for the next
//! process); and an outbox whose batch the host never received holds sends that returned `Ok`
//! before the child died (delivered). While the child lives, only the child touches the memory;
//! the host reads it only after the child's channel has closed and its process is reaped.

use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};

use ipc_channel::ipc::IpcSharedMemory;

use crate::os::mapping::Mapping;

/// Room for frames in one batch (a frame that does not fit even alone travels on its own).
pub(crate) const OUTBOX: usize = 64 * 1024;

const STARTED: usize = 0;
const FINISHED: usize = 8;
const BATCH: usize = 16;
const LEN: usize = 24;
const SIGNALS: usize = 32;
const HEADER: usize = 64;

/// A new, zeroed journal for one child process (the host keeps it and sends the child a copy,
/// which maps the same memory).
pub(crate) fn create() -> IpcSharedMemory {
    IpcSharedMemory::from_byte(0, HEADER + OUTBOX)
}

/// What a dead child left in its journal.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Remains {
    pub started: u64,
    pub finished: u64,
    pub batch: u64,
    /// How many signals the process took: the ones after them it never saw.
    pub signals: u64,
    /// The frames of batch `batch`, never flushed if the host did not receive that batch.
    pub frames: Vec<u8>,
}

/// Reads a journal whose child is gone. Bytes past the recorded length are ignored, and a length
/// that a misbehaving child left out of range yields no frames rather than a panic.
pub(crate) fn read_remains(memory: &IpcSharedMemory) -> Remains {
    // Through a mapping of its own and atomics (`Mapping::read_bytes`): the child is dead, but
    // a process it forked could still hold the journal and write it.
    let Some(journal) = Mapping::new(memory.clone(), HEADER, HEADER + OUTBOX) else {
        return Remains::default();
    };
    let word = |at: usize| journal.word(at).load(Acquire);
    let len = usize::try_from(word(LEN)).unwrap_or(usize::MAX).min(OUTBOX);
    let mut frames = vec![0; len];
    if !journal.read_bytes(HEADER, &mut frames) {
        frames.clear();
    }
    Remains {
        started: word(STARTED),
        finished: word(FINISHED),
        batch: word(BATCH),
        signals: word(SIGNALS),
        frames,
    }
}

/// The child's side: the only writer of the journal while the child lives (the host reads its
/// copy only after this process has died).
pub(crate) struct Writer {
    journal: Mapping,
    len: usize,
    batch: u64,
}

impl Writer {
    /// Takes the child's copy of the journal. `None` if it is too small to be one.
    pub fn new(memory: IpcSharedMemory) -> Option<Self> {
        Some(Self {
            journal: Mapping::new(memory, HEADER, HEADER + OUTBOX)?,
            len: 0,
            batch: 0,
        })
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        self.journal.word(offset)
    }

    /// The handler of message `seq` begins.
    pub fn begin(&self, seq: u64) {
        self.word(STARTED).store(seq, Release);
    }

    /// The handler of message `seq` has ended (returned or failed).
    pub fn finish(&self, seq: u64) {
        self.word(FINISHED).store(seq, Release);
    }

    /// `count` signals have been taken: the last of them is in hand or done.
    pub fn took_signals(&self, count: u64) {
        self.word(SIGNALS).store(count, Release);
    }

    /// The number of the batch the outbox holds.
    pub fn batch(&self) -> u64 {
        self.batch
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one frame, written by `encode` into the free part of the outbox. Once this
    /// returns `true` the frame survives the death of this process. `false` (nothing written)
    /// if it does not fit.
    #[allow(unsafe_code)]
    pub fn append(&mut self, encode: impl FnOnce(&mut [u8]) -> Option<usize>) -> bool {
        // SAFETY: the range [HEADER + len, HEADER + OUTBOX) lies in the mapping (checked in
        // `new`), holds no frame yet, and nothing else in this process refers to it; the slice
        // lives only for this call.
        let free = unsafe {
            std::slice::from_raw_parts_mut(
                self.journal.base().add(HEADER + self.len),
                OUTBOX - self.len,
            )
        };
        match encode(free) {
            Some(written) if written <= OUTBOX - self.len => {
                self.len += written;
                self.word(LEN).store(self.len as u64, Release);
                true
            }
            _ => false,
        }
    }

    /// The frames of the current batch, to be sent as one IPC message.
    #[allow(unsafe_code)]
    pub fn frames(&self) -> Vec<u8> {
        // SAFETY: [HEADER, HEADER + len) lies in the mapping and was written by `append`;
        // nothing writes it during this call.
        unsafe { std::slice::from_raw_parts(self.journal.base().add(HEADER), self.len) }.to_vec()
    }

    /// The current batch has been sent: start the next one. The length is cleared before the
    /// batch number moves on, so a death between the two leaves an empty outbox, never the old
    /// frames under the new number (which would be sent twice).
    pub fn next_batch(&mut self) {
        self.len = 0;
        self.word(LEN).store(0, Release);
        self.batch += 1;
        self.word(BATCH).store(self.batch, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_child_wrote_is_what_the_host_reads() {
        let host = create();
        let mut child = Writer::new(host.clone()).expect("a journal");
        assert_eq!(read_remains(&host), Remains::default());
        child.begin(7);
        assert!(child.append(|free| {
            free[..3].copy_from_slice(b"abc");
            Some(3)
        }));
        child.finish(7);
        child.begin(8);
        child.took_signals(2);
        let remains = read_remains(&host);
        assert_eq!((remains.started, remains.finished), (8, 7));
        assert_eq!(remains.signals, 2);
        assert_eq!((remains.batch, remains.frames.as_slice()), (0, &b"abc"[..]));
        assert_eq!(child.frames(), b"abc");
        child.next_batch();
        assert_eq!(read_remains(&host).batch, 1);
        assert!(read_remains(&host).frames.is_empty());
    }

    #[test]
    fn a_frame_that_does_not_fit_is_not_written() {
        let host = create();
        let mut child = Writer::new(host.clone()).expect("a journal");
        assert!(!child.append(|_| None));
        assert!(!child.append(|_| Some(OUTBOX + 1)));
        assert!(child.is_empty());
        assert!(read_remains(&host).frames.is_empty());
    }

    #[test]
    fn a_memory_too_small_is_refused() {
        assert!(Writer::new(IpcSharedMemory::from_byte(0, 8)).is_none());
    }
}
