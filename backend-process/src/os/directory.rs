//! The directory: what every actor's process can read about every actor, so that a send from a
//! handler is checked at the call, as one from outside is, though the sending process does not
//! hold the receiver's mailbox.
//!
//! The host writes one entry per actor id into pages of memory it shares with every child:
//! whether the id has been given out and whether its actor has stopped, the message type it
//! takes, and for a bounded mailbox its capacity and two counts, the places *taken* (every
//! delivery accepted, and every place a sender has reserved for a message still on its way)
//! and the places *freed* (every delivery handled or dead-lettered, and the one in hand). A
//! sender takes a place with a compare-and-swap before its send returns `Ok`, so two senders
//! never both get the last one; the host frees places as it learns of progress, so a sender
//! may see a mailbox as full a little longer than it is, never the other way.
//!
//! A child asks the host (`ToHost::Check`) only about a receiver of another type (the error
//! names its type, which the directory does not hold) or an id beyond the pages it has: the
//! answer is the error a send from outside would get, and the page the id is on. The
//! directory is a fast path and a hint: the host still checks each delivery, and one that
//! reaches it after its receiver stopped is a dead letter
//! ([`ReceiverGone`](actor_core::DeadLetterReason::ReceiverGone)).
//!
//! A child is as trusted as the host's code in it: one that writes the directory wrongly can
//! make bounded mailboxes hold more or less than their bound, not lose a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actor_core::{ActorId, SendFailure};
use ipc_channel::ipc::IpcSharedMemory;

use crate::os::mapping::Mapping;
use crate::os::wire::TypeKey;

/// Entries per page: a page is 256 KiB, made when the first id on it is given out.
pub(crate) const PER_PAGE: u64 = 4096;
/// One cache line an entry, so that senders taking places in two mailboxes do not contend.
const ENTRY: usize = 64;
const PAGE: usize = PER_PAGE as usize * ENTRY;

// Words of an entry.
const STATE: usize = 0;
const TYPE: usize = 8;
const CAPACITY: usize = 16;
const TAKEN: usize = 24;
const FREED: usize = 32;

// Values of `STATE` (a fresh page is all zeroes: ids not given out).
const ALIVE: u64 = 1;
const STOPPED: u64 = 2;

/// `CAPACITY` of an unbounded mailbox.
const UNBOUNDED: u64 = u64::MAX;

/// The page an id is on, and its entry's offset there.
fn locate(id: ActorId) -> (u64, usize) {
    let index = id.get() / PER_PAGE;
    let at = (id.get() % PER_PAGE) as usize * ENTRY;
    (index, at)
}

/// One actor's entry.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    page: &'a Mapping,
    at: usize,
}

/// What a sender may do, by the directory.
pub(crate) enum Look<'a> {
    /// The id is on a page this process does not have: ask the host.
    Unmapped,
    /// The actor is alive and takes this type: send, after taking a place if it is bounded.
    Open(Entry<'a>),
    /// The send is refused, for this reason.
    Refused(SendFailure),
    /// The actor takes another type: ask the host for its name, which the error gives.
    OtherType,
}

impl<'a> Entry<'a> {
    fn word(&self, offset: usize) -> &AtomicU64 {
        self.page.word(self.at + offset)
    }

    /// What a send of type `key` may do now. An id is published before the host gives it
    /// out, so one that is not published was never given out.
    fn look(self, key: TypeKey) -> Look<'a> {
        match self.word(STATE).load(Ordering::Acquire) {
            ALIVE if self.word(TYPE).load(Ordering::Relaxed) == key.bits() => Look::Open(self),
            ALIVE => Look::OtherType,
            STOPPED => Look::Refused(SendFailure::Stopped),
            _ => Look::Refused(SendFailure::UnknownActor),
        }
    }

    /// The mailbox's capacity, if it is bounded.
    pub fn capacity(&self) -> Option<usize> {
        match self.word(CAPACITY).load(Ordering::Relaxed) {
            UNBOUNDED => None,
            capacity => Some(usize::try_from(capacity).unwrap_or(usize::MAX)),
        }
    }

    /// Takes a place in a bounded mailbox for a message about to be sent, if one is free;
    /// `Err(Full)` if none is. An unbounded mailbox always has room (and nothing is counted).
    pub fn reserve(&self) -> Result<(), SendFailure> {
        let Some(capacity) = self.capacity() else {
            return Ok(());
        };
        let taken = self.word(TAKEN);
        let mut seen = taken.load(Ordering::Acquire);
        loop {
            // `freed` only grows, so a stale one makes the mailbox look fuller, never emptier.
            let freed = self.word(FREED).load(Ordering::Acquire);
            if seen.saturating_sub(freed) >= capacity as u64 {
                return Err(SendFailure::Full { capacity });
            }
            match taken.compare_exchange_weak(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(now) => seen = now,
            }
        }
    }

    /// Gives back a place [`reserve`](Self::reserve) took, for a message that was not sent
    /// after all.
    pub fn release(&self) {
        if self.capacity().is_some() {
            self.word(TAKEN).fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Counts a place taken without a reservation (a delivery past the bound: a timer, an
    /// ask's outcome, a message accepted and dead-lettered at once).
    pub fn take_unreserved(&self) {
        if self.capacity().is_some() {
            self.word(TAKEN).fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Publishes how many places the host has seen freed.
    pub fn set_freed(&self, freed: u64) {
        if self.capacity().is_some() {
            self.word(FREED).store(freed, Ordering::Release);
        }
    }

    /// Marks the actor stopped: sends to it are refused from now on.
    pub fn set_stopped(&self) {
        self.word(STATE).store(STOPPED, Ordering::Release);
    }
}

/// The host's pages, and each actor's place in them.
#[derive(Default)]
pub(crate) struct Directory {
    /// Each page as it is sent to a child, and the host's own mapping of it.
    pages: Vec<(IpcSharedMemory, Arc<Mapping>)>,
}

/// An actor's entry, held by the host's record of the actor (`host/slot.rs`).
pub(crate) struct Place {
    page: Arc<Mapping>,
    at: usize,
}

impl Place {
    /// The entry.
    pub fn entry(&self) -> Entry<'_> {
        Entry {
            page: &self.page,
            at: self.at,
        }
    }
}

impl Directory {
    /// Publishes a new actor (alive, of type `key`, with this capacity) and returns its place.
    /// `None` if a page for it could not be made.
    pub fn publish(&mut self, id: ActorId, key: TypeKey, capacity: Option<usize>) -> Option<Place> {
        let (index, at) = locate(id);
        while self.pages.len() as u64 <= index {
            let memory = IpcSharedMemory::from_byte(0, PAGE);
            let own = Mapping::new(memory.clone(), PAGE, PAGE)?;
            self.pages.push((memory, Arc::new(own)));
        }
        let page = Arc::clone(&self.pages[usize::try_from(index).ok()?].1);
        let place = Place { page, at };
        let entry = place.entry();
        entry.word(TYPE).store(key.bits(), Ordering::Relaxed);
        let capacity = capacity.map_or(UNBOUNDED, |c| c as u64);
        entry.word(CAPACITY).store(capacity, Ordering::Relaxed);
        // Last, with `Release`: a child that sees the actor alive sees its type and capacity.
        entry.word(STATE).store(ALIVE, Ordering::Release);
        Some(place)
    }

    /// Every page, to give a process at its boot.
    pub fn pages(&self) -> Vec<IpcSharedMemory> {
        self.pages
            .iter()
            .map(|(memory, _)| memory.clone())
            .collect()
    }

    /// The page `id` is on, if there is one yet, with its index.
    pub fn page_of(&self, id: ActorId) -> Option<(u64, IpcSharedMemory)> {
        let (index, _) = locate(id);
        let (memory, _) = self.pages.get(usize::try_from(index).ok()?)?;
        Some((index, memory.clone()))
    }
}

/// A child's view of the directory: the pages it has been given.
#[derive(Default)]
pub(crate) struct View {
    pages: Vec<Option<Mapping>>,
}

impl View {
    /// The pages given at boot, in order.
    pub fn new(pages: Vec<IpcSharedMemory>) -> Self {
        let mut view = Self::default();
        for (index, memory) in pages.into_iter().enumerate() {
            view.add(index as u64, memory);
        }
        view
    }

    /// Adds a page the host sent. One of the wrong size is left out (the host asks again).
    pub fn add(&mut self, index: u64, memory: IpcSharedMemory) {
        let Ok(index) = usize::try_from(index) else {
            return;
        };
        if self.pages.len() <= index {
            self.pages.resize_with(index + 1, || None);
        }
        self.pages[index] = Mapping::new(memory, PAGE, PAGE);
    }

    /// What the directory says of a send of type `key` to `to`.
    pub fn look(&self, to: ActorId, key: TypeKey) -> Look<'_> {
        let (index, at) = locate(to);
        let page = usize::try_from(index)
            .ok()
            .and_then(|i| self.pages.get(i))
            .and_then(Option::as_ref);
        match page {
            None => Look::Unmapped,
            Some(page) => Entry { page, at }.look(key),
        }
    }

    /// `to`'s entry, if its page is here.
    pub fn entry(&self, to: ActorId) -> Option<Entry<'_>> {
        let (index, at) = locate(to);
        let page = self.pages.get(usize::try_from(index).ok()?)?.as_ref()?;
        Some(Entry { page, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> TypeKey {
        TypeKey::from_bits(n)
    }

    #[test]
    fn a_child_sees_what_the_host_publishes() {
        let mut host = Directory::default();
        let id = ActorId::new(5);
        let place = host.publish(id, key(7), None).unwrap();
        let view = View::new(host.pages());
        assert!(matches!(view.look(id, key(7)), Look::Open(_)));
        assert!(matches!(view.look(id, key(8)), Look::OtherType));
        assert!(matches!(
            view.look(ActorId::new(6), key(7)),
            Look::Refused(SendFailure::UnknownActor)
        ));
        assert!(matches!(
            view.look(ActorId::new(PER_PAGE), key(7)),
            Look::Unmapped
        ));
        place.entry().set_stopped();
        assert!(matches!(
            view.look(id, key(7)),
            Look::Refused(SendFailure::Stopped)
        ));
    }

    #[test]
    fn places_in_a_bounded_mailbox_are_taken_once_and_freed_by_the_host() {
        let mut host = Directory::default();
        let id = ActorId::new(PER_PAGE + 1);
        let place = host.publish(id, key(1), Some(2)).unwrap();
        let view = View::new(host.pages());
        let Look::Open(entry) = view.look(id, key(1)) else {
            panic!("not open")
        };
        assert_eq!(entry.reserve(), Ok(()));
        place.entry().take_unreserved(); // the host accepted one from outside
        assert_eq!(entry.reserve(), Err(SendFailure::Full { capacity: 2 }));
        place.entry().set_freed(1);
        assert_eq!(entry.reserve(), Ok(()));
        entry.release();
        assert_eq!(entry.reserve(), Ok(()), "a released place is free again");
        assert_eq!(entry.reserve(), Err(SendFailure::Full { capacity: 2 }));
    }

    #[test]
    fn two_threads_never_both_take_the_last_place() {
        let mut host = Directory::default();
        let id = ActorId::new(1);
        let _place = host.publish(id, key(1), Some(100)).unwrap();
        let view = View::new(host.pages());
        let taken: usize = std::thread::scope(|s| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let Look::Open(entry) = view.look(id, key(1)) else {
                            return 0;
                        };
                        (0..1000).filter(|_| entry.reserve().is_ok()).count()
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).sum()
        });
        assert_eq!(taken, 100);
    }
}
