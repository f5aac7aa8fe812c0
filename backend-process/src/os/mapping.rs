//! A piece of memory shared between the host and one child (`IpcSharedMemory`), reached
//! through its address: the journal (`journal.rs`), the ring (`ring.rs`) and the bell
//! (`bell.rs`) are all laid out as header words, which both processes touch only atomically,
//! then bytes that their protocol gives to one side at a time.
//!
//! The rules this module keeps, and asks of its users:
//! * The address is taken once, from ipc-channel's `deref_mut`, whose slice is not used past
//!   that line: no Rust reference to the shared bytes outlives it, so nothing the other process
//!   writes is ever seen through one. The mapping lives as long as the [`Mapping`], which owns
//!   it, and the `IpcSharedMemory` is not touched again until it is dropped (unmapped).
//! * Bytes that another process may be writing while this one reads or writes them (a peer
//!   that does not keep the protocol: an untrusted child, or the sender of a direct route) are
//!   reached only with [`read_bytes`](Mapping::read_bytes) and
//!   [`write_bytes`](Mapping::write_bytes), which go a word (or a byte) at a time through
//!   atomics: a race with the other process then gives wrong bytes, which the reader
//!   validates (they are decoded, and a length is bounded), never undefined behaviour.
//! * A side may take bytes as a slice only where the protocol gives them to it and the only
//!   other process that maps them is trusted to keep it: the child reads the ring the host
//!   wrote in place, and writes its own journal's outbox, which the host reads only once the
//!   child is dead.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};

use ipc_channel::ipc::IpcSharedMemory;

/// The mapping and its address.
pub(crate) struct Mapping {
    /// Keeps the mapping alive; all access goes through `base`.
    _memory: IpcSharedMemory,
    base: *mut u8,
    header: usize,
    /// The mapping's length in bytes.
    len: usize,
}

// SAFETY: `base` points into the mapping that `_memory` owns and moves with it; nothing about
// it is tied to the thread that made it.
#[allow(unsafe_code)]
unsafe impl Send for Mapping {}

// SAFETY: through a shared reference only the header words are reached, and only atomically
// (`word`); other bytes are reached through `base`, only with raw pointer copies, by the side
// the protocol of the journal, the ring or the route gives them to at the time.
#[allow(unsafe_code)]
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Takes a copy of a shared memory of at least `len` bytes, whose first `header` bytes are
    /// words. `None` if it is smaller.
    #[allow(unsafe_code)] // the mapping is reached through a raw pointer; see `word`
    pub fn new(mut memory: IpcSharedMemory, header: usize, len: usize) -> Option<Self> {
        if memory.len() < len.max(header) {
            return None;
        }
        // SAFETY: ipc-channel asks that nothing else read or write the memory while the slice
        // lives; the other process may (the host may be writing a ring's records while the
        // child maps its copy), but the slice is only used, at once, to take the mapping's
        // address, and is never read or written through. Every later access goes through that
        // address, as atomics (the header) or as copies of bytes the protocol gives to this
        // side alone. `Mapping` owns the mapping, so the address stays valid.
        let bytes = unsafe { memory.deref_mut() };
        let (base, len) = (bytes.as_mut_ptr(), bytes.len());
        Some(Self {
            _memory: memory,
            base,
            header,
            len,
        })
    }

    /// The mapping's first byte.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Copies `out.len()` bytes from `offset` into `out`, through atomics (bytes up to the
    /// first word boundary, then whole aligned words, then bytes): another process may be
    /// writing them meanwhile. `false`, with nothing copied, if the range is not within the
    /// mapping.
    #[allow(unsafe_code)]
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) -> bool {
        if !self.holds(offset, out.len()) {
            return false;
        }
        let head = (offset.wrapping_neg() % 8).min(out.len());
        let (first, rest) = out.split_at_mut(head);
        let mut at = offset;
        for byte in first {
            // SAFETY: the byte lies within the mapping (`holds`), which outlives `self`, and
            // this process reaches it only atomically.
            *byte = unsafe { AtomicU8::from_ptr(self.base.add(at)) }.load(Relaxed);
            at += 1;
        }
        let mut words = rest.chunks_exact_mut(8);
        for word in &mut words {
            // SAFETY: `at` is now 8-aligned (the mapping is page-aligned), and the word lies
            // within the mapping; as above otherwise.
            let atomic = unsafe { AtomicU64::from_ptr(self.base.add(at).cast::<u64>()) };
            word.copy_from_slice(&atomic.load(Relaxed).to_ne_bytes());
            at += 8;
        }
        for byte in words.into_remainder() {
            // SAFETY: as for the first bytes.
            *byte = unsafe { AtomicU8::from_ptr(self.base.add(at)) }.load(Relaxed);
            at += 1;
        }
        true
    }

    /// Copies `bytes` to `offset`, through atomics as [`read_bytes`](Self::read_bytes) does:
    /// another process may be reading or writing them meanwhile. `false`, with nothing
    /// written, if the range is not within the mapping. (For 60 bytes, about 8 ns against 3.5
    /// for a plain copy; for 500, 32 against 17.)
    #[allow(unsafe_code)]
    pub fn write_bytes(&self, offset: usize, bytes: &[u8]) -> bool {
        if !self.holds(offset, bytes.len()) {
            return false;
        }
        let head = (offset.wrapping_neg() % 8).min(bytes.len());
        let (first, rest) = bytes.split_at(head);
        let mut at = offset;
        for &byte in first {
            // SAFETY: as in `read_bytes`.
            unsafe { AtomicU8::from_ptr(self.base.add(at)) }.store(byte, Relaxed);
            at += 1;
        }
        let words = rest.chunks_exact(8);
        let tail = words.remainder();
        for word in words {
            let mut value = [0; 8];
            value.copy_from_slice(word);
            // SAFETY: as in `read_bytes`: aligned, within the mapping, reached atomically.
            unsafe { AtomicU64::from_ptr(self.base.add(at).cast::<u64>()) }
                .store(u64::from_ne_bytes(value), Relaxed);
            at += 8;
        }
        for &byte in tail {
            // SAFETY: as in `read_bytes`.
            unsafe { AtomicU8::from_ptr(self.base.add(at)) }.store(byte, Relaxed);
            at += 1;
        }
        true
    }

    /// Whether `len` bytes from `offset` lie within the mapping.
    fn holds(&self, offset: usize, len: usize) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len)
    }

    /// One header word, as an atomic: the other process may read or write it at any time, and
    /// a store to it is a store to memory, in program order, never kept in a register, so what
    /// a `kill -9` leaves behind is consistent.
    #[allow(unsafe_code)]
    pub fn word(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset + 8 <= self.header && offset % 8 == 0);
        // SAFETY: `base` is page-aligned (an mmap) and `offset` a multiple of 8 within the
        // header (the callers' offsets are constants of their layouts), so the pointer is
        // aligned and in bounds for a u64; the mapping outlives `self`; both processes access
        // the header words only atomically.
        unsafe { AtomicU64::from_ptr(self.base.add(offset).cast::<u64>()) }
    }

    /// The low half of a header word, as a 32-bit atomic: what a futex waits on.
    #[allow(unsafe_code)]
    pub fn half_word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset + 4 <= self.header && offset % 8 == 0);
        // SAFETY: as for `word`: aligned (for a u32 too), in bounds, outlived by the mapping,
        // and reached only atomically by both processes (this half is never also reached as
        // part of a u64).
        unsafe { AtomicU32::from_ptr(self.base.add(offset).cast::<u32>()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_written_through_atomics_read_back_at_every_alignment_and_length() {
        let mapping = Mapping::new(IpcSharedMemory::from_byte(0, 256), 8, 256).expect("a map");
        for offset in 0..17 {
            for len in 0..40 {
                let bytes: Vec<u8> = (0..len).map(|i| (offset * 31 + i * 7 + 1) as u8).collect();
                assert!(mapping.write_bytes(offset, &bytes));
                let mut out = vec![0; len];
                assert!(mapping.read_bytes(offset, &mut out));
                assert_eq!(out, bytes, "offset {offset}, length {len}");
            }
        }
        // Past the end: refused, nothing touched.
        let mut out = [0; 4];
        assert!(!mapping.read_bytes(254, &mut out));
        assert!(!mapping.write_bytes(usize::MAX, &[1]));
    }
}
