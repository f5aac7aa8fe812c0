//! A piece of memory shared between the host and one child (`IpcSharedMemory`), reached
//! through its address: the journal (`journal.rs`), the ring (`ring.rs`) and the bell
//! (`bell.rs`) are all laid out as header words, which both processes touch only atomically,
//! then bytes that their protocol gives to one side at a time.

use std::sync::atomic::{AtomicU32, AtomicU64};

use ipc_channel::ipc::IpcSharedMemory;

/// The mapping and its address.
pub(crate) struct Mapping {
    /// Keeps the mapping alive; all access goes through `base`.
    _memory: IpcSharedMemory,
    base: *mut u8,
    header: usize,
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
        let base = unsafe { memory.deref_mut() }.as_mut_ptr();
        Some(Self {
            _memory: memory,
            base,
            header,
        })
    }

    /// The mapping's first byte.
    pub fn base(&self) -> *mut u8 {
        self.base
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
