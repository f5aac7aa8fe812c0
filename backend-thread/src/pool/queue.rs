//! The FIFO behind a mailbox's lock, in chunks of [`CHUNK`] messages, and the runner's own
//! side of it.
//!
//! Why chunks: a push never moves what is already queued, so a burst of sends (a fan-in whose
//! receiver is not running yet) never copies a large buffer or touches fresh pages while the
//! senders wait for the lock; and the runner takes the whole queue in one lock ([`Queue::take_all`]),
//! then hands the emptied chunks back for reuse, so a steady stream allocates nothing. A queue
//! that never held more than one message holds no allocation, and a chunk starts small, so an
//! actor that gets one message pays for nothing more; while a burst lasts, up to [`SPARE`]
//! emptied chunks are kept for reuse, and when the actor runs out of messages and goes idle
//! all but [`SPARE_IDLE`] are freed ([`Queue::trim`], [`Taken::trim`]): ten thousand actors that each once had a burst do
//! not keep a burst's memory each.

use std::collections::VecDeque;

/// Messages a chunk holds at most (also the most a pool handler holds for one receiver before
/// they go in: `outbox.rs`).
pub(crate) const CHUNK: usize = 64;
/// Emptied chunks kept for reuse at most.
const SPARE: usize = 16;
/// Emptied chunks kept by an idle actor.
const SPARE_IDLE: usize = 1;

/// The shared side, under the mailbox lock.
pub(crate) struct Queue<T> {
    /// The oldest message, kept inline when it arrived in an empty queue: a mailbox that
    /// holds one message at a time (a short-lived actor's stop order, a request, a reply)
    /// allocates nothing.
    alone: Option<T>,
    /// Full chunks, oldest first (after `alone`).
    full: VecDeque<Vec<T>>,
    /// The chunk being filled: the newest messages.
    last: Vec<T>,
    len: usize,
    spare: Vec<Vec<T>>,
}

/// The runner's side: what it took with [`Queue::take_all`] and has not handled yet.
pub(crate) struct Taken<T> {
    /// The oldest chunk, reversed: its next message is at the end.
    current: Vec<T>,
    /// Later chunks, oldest first, in order.
    rest: VecDeque<Vec<T>>,
    /// Emptied chunks, to go back to the queue at the next take.
    emptied: Vec<Vec<T>>,
}

impl<T> Queue<T> {
    pub const fn new() -> Self {
        Self {
            alone: None,
            full: VecDeque::new(),
            last: Vec::new(),
            len: 0,
            spare: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empty and holding no memory: a drain would find nothing and free nothing.
    pub fn is_bare(&self) -> bool {
        self.len == 0
            && self.full.capacity() == 0
            && self.last.capacity() == 0
            && self.spare.capacity() == 0
    }

    #[inline]
    pub fn push(&mut self, value: T) {
        if self.len == 0 {
            self.alone = Some(value);
            self.len = 1;
            return;
        }
        if self.last.len() >= CHUNK {
            // Only the first chunk grows from nothing: one behind it is a burst.
            let fresh = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(CHUNK));
            self.full
                .push_back(std::mem::replace(&mut self.last, fresh));
        }
        self.last.push(value);
        self.len += 1;
    }

    /// Appends `chunk`, its oldest message first, behind everything queued, without moving
    /// its messages (a pool handler's held sends, `outbox.rs`); returns an empty chunk for the
    /// caller to fill next: a spare one if the queue has one, so that memory goes round between
    /// the senders and the runner instead of back to the allocator.
    pub fn append(&mut self, chunk: Vec<T>) -> Vec<T> {
        if chunk.is_empty() {
            return chunk;
        }
        self.len += chunk.len();
        let older = std::mem::replace(&mut self.last, chunk);
        if older.is_empty() {
            if older.capacity() > 0 {
                return older;
            }
        } else {
            self.full.push_back(older);
        }
        self.spare.pop().unwrap_or_default()
    }

    /// The oldest message alone (for a bounded mailbox, whose capacity counts what is queued,
    /// and for a queue of one message, which is cheaper popped than taken).
    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        if let Some(value) = self.alone.take() {
            self.len -= 1;
            return Some(value);
        }
        if self.len == 0 {
            return None;
        }
        self.pop_front_from_chunks()
    }

    /// [`Queue::pop_front`] past `alone`: out of line, so that the usual pop (a queue of one
    /// message, or none) is a few instructions where it is called.
    #[inline(never)]
    fn pop_front_from_chunks(&mut self) -> Option<T> {
        let value = match self.full.front_mut() {
            // At most `CHUNK` messages move: bounded mailboxes only.
            Some(chunk) => {
                let value = chunk.remove(0);
                if chunk.is_empty()
                    && let Some(emptied) = self.full.pop_front()
                {
                    self.recycle(emptied);
                }
                value
            }
            None if self.last.len() <= 1 => self.last.pop()?,
            None => self.last.remove(0),
        };
        self.len -= 1;
        Some(value)
    }

    /// Moves every queued message into `taken`, which must be empty, and takes back the chunks
    /// it emptied.
    pub fn take_all(&mut self, taken: &mut Taken<T>) {
        debug_assert!(taken.is_empty());
        for emptied in taken.emptied.drain(..) {
            if self.spare.len() < SPARE {
                self.spare.push(emptied);
            }
        }
        std::mem::swap(&mut taken.rest, &mut self.full);
        // The runner's emptied current chunk becomes the next one to fill.
        std::mem::swap(&mut taken.current, &mut self.last);
        if let Some(oldest) = taken.rest.pop_front() {
            let newest = std::mem::replace(&mut taken.current, oldest);
            taken.rest.push_back(newest);
        }
        taken.current.reverse();
        // The oldest of all goes last in the reversed chunk: it comes out first.
        taken.current.extend(self.alone.take());
        self.len = 0;
    }

    /// Every message, oldest first, in place.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.alone
            .iter()
            .chain(self.full.iter().flatten())
            .chain(self.last.iter())
    }

    /// Every message, oldest first; frees the chunks.
    pub fn drain(&mut self) -> impl Iterator<Item = T> {
        let alone = self.alone.take();
        let full = std::mem::take(&mut self.full);
        let last = std::mem::take(&mut self.last);
        *self = Self::new();
        alone
            .into_iter()
            .chain(full.into_iter().flatten())
            .chain(last)
    }

    /// Holds more spare chunks than an idle actor keeps.
    #[inline]
    pub fn has_surplus(&self) -> bool {
        self.spare.len() > SPARE_IDLE
    }

    /// Takes out the spare chunks beyond what an idle actor keeps, for the caller to free.
    pub fn trim(&mut self) -> Vec<Vec<T>> {
        beyond_idle(&mut self.spare)
    }

    #[cfg(test)]
    fn spare_chunks(&self) -> usize {
        self.spare.len()
    }

    fn recycle(&mut self, mut emptied: Vec<T>) {
        if self.spare.len() < SPARE {
            emptied.clear();
            self.spare.push(emptied);
        }
    }
}

impl<T> Taken<T> {
    pub const fn new() -> Self {
        Self {
            current: Vec::new(),
            rest: VecDeque::new(),
            emptied: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty() && self.rest.is_empty()
    }

    /// Empty and holding no memory: a drain would find nothing and free nothing.
    pub fn is_bare(&self) -> bool {
        self.current.capacity() == 0 && self.rest.capacity() == 0 && self.emptied.capacity() == 0
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.rest.iter().map(Vec::len).sum::<usize>()
    }

    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        match self.current.pop() {
            Some(value) => Some(value),
            None if self.rest.is_empty() => None,
            None => self.next_chunk(),
        }
    }

    /// Moves on to the next chunk, keeping the emptied one for reuse.
    #[cold]
    fn next_chunk(&mut self) -> Option<T> {
        loop {
            let mut next = self.rest.pop_front()?;
            next.reverse();
            let emptied = std::mem::replace(&mut self.current, next);
            if self.emptied.len() < SPARE {
                self.emptied.push(emptied);
            }
            if let Some(value) = self.current.pop() {
                return Some(value);
            }
        }
    }

    /// Holds more emptied chunks than an idle actor keeps.
    #[inline]
    pub fn has_surplus(&self) -> bool {
        self.emptied.len() > SPARE_IDLE
    }

    /// Takes out the emptied chunks beyond what an idle actor keeps, for the caller to free.
    pub fn trim(&mut self) -> Vec<Vec<T>> {
        beyond_idle(&mut self.emptied)
    }

    /// Every message, oldest first, in place.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.current.iter().rev().chain(self.rest.iter().flatten())
    }

    /// Every message, oldest first; frees the chunks.
    pub fn drain(&mut self) -> impl Iterator<Item = T> {
        let taken = std::mem::replace(self, Self::new());
        let Self { current, rest, .. } = taken;
        current.into_iter().rev().chain(rest.into_iter().flatten())
    }
}

/// Takes out the chunks of `kept` beyond what an idle actor keeps ([`SPARE_IDLE`]).
fn beyond_idle<T>(kept: &mut Vec<Vec<T>>) -> Vec<Vec<T>> {
    if kept.len() > SPARE_IDLE {
        kept.split_off(SPARE_IDLE)
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_chunks_keep_their_place_among_single_pushes() {
        let mut queue = Queue::new();
        let mut taken = Taken::new();
        let mut out = Vec::new();
        let mut next = 0..;
        let mut chunk = Vec::new();
        for (singles, appended) in [(1, 5), (0, 64), (70, 1), (0, 0), (3, 64), (64, 2)] {
            for _ in 0..singles {
                queue.push(next.next().unwrap());
            }
            chunk.extend(next.by_ref().take(appended));
            chunk = queue.append(chunk);
            assert!(chunk.is_empty(), "the chunk handed back is empty");
            if singles % 2 == 1 {
                out.extend(queue.pop_front());
            }
            if appended % 2 == 0 {
                queue.take_all(&mut taken);
                out.extend(std::iter::from_fn(|| taken.pop_front()));
            }
        }
        queue.take_all(&mut taken);
        out.extend(std::iter::from_fn(|| taken.pop_front()));
        assert_eq!(out, (0..next.next().unwrap()).collect::<Vec<_>>());
        assert!(queue.is_empty() && taken.is_empty());
    }

    #[test]
    fn messages_come_out_in_the_order_they_went_in_across_chunks_and_takes() {
        let mut queue = Queue::new();
        let mut taken = Taken::new();
        let mut out = Vec::new();
        let mut next = 0..;
        for round in [1, 63, 64, 65, 200, 0, 129] {
            for _ in 0..round {
                queue.push(next.next().unwrap());
            }
            assert_eq!(queue.len(), round);
            if round % 2 == 1 {
                out.extend(queue.pop_front());
            }
            queue.take_all(&mut taken);
            assert!(queue.is_empty());
            while let Some(value) = taken.pop_front() {
                out.push(value);
            }
        }
        assert_eq!(out, (0..next.next().unwrap()).collect::<Vec<_>>());
    }

    #[test]
    fn a_drain_gives_the_taken_messages_then_the_queued_ones() {
        let mut queue = Queue::new();
        let mut taken = Taken::new();
        (0..140).for_each(|n| queue.push(n));
        queue.take_all(&mut taken);
        assert_eq!(taken.pop_front(), Some(0));
        (140..200).for_each(|n| queue.push(n));
        let all: Vec<_> = taken.drain().chain(queue.drain()).collect();
        assert_eq!(all, (1..200).collect::<Vec<_>>());
        assert!(taken.is_empty() && queue.is_empty());
    }

    #[test]
    fn an_idle_queue_keeps_one_spare_chunk_after_a_burst() {
        let mut queue = Queue::new();
        let mut taken = Taken::new();
        (0..CHUNK * 40).for_each(|n| queue.push(n));
        queue.take_all(&mut taken);
        while taken.pop_front().is_some() {}
        // Both sides hold spare chunks after a burst: the taken side the ones it emptied...
        assert_eq!(taken.emptied.len(), SPARE, "kept while the burst may go on");
        assert_eq!(taken.trim().len(), SPARE - SPARE_IDLE);
        assert_eq!(taken.emptied.len(), SPARE_IDLE);
        // ...and the queue those handed back at the next take.
        (0..CHUNK * 40).for_each(|n| queue.push(n));
        queue.take_all(&mut taken);
        while taken.pop_front().is_some() {}
        queue.push(0);
        queue.take_all(&mut taken);
        let spare = queue.spare_chunks();
        assert!(spare > SPARE_IDLE, "{spare} spare chunks");
        assert_eq!(queue.trim().len(), spare - SPARE_IDLE);
        assert_eq!(queue.spare_chunks(), SPARE_IDLE);
    }

    /// One step of the property below.
    #[derive(Clone, Debug)]
    enum Op {
        Push(usize),
        PopFront,
        TakeAll,
        PopTaken(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (1usize..150).prop_map(Op::Push),
            Just(Op::PopFront),
            Just(Op::TakeAll),
            (1usize..150).prop_map(Op::PopTaken),
        ]
    }

    proptest::proptest! {
        /// Any mix of pushes, single pops, takes and pops from the taken side gives the
        /// messages back once each, in the order they were pushed, and both drains give the
        /// rest in order: the same as one `VecDeque`.
        #[test]
        fn it_is_one_fifo_whatever_the_operations(ops in proptest::collection::vec(op(), 1..60)) {
            let mut queue = Queue::new();
            let mut taken = Taken::new();
            let mut model = VecDeque::new();
            let mut next = 0u64;
            // The taken side holds the oldest messages: everything the model has, split at
            // `in_taken`.
            let mut in_taken = 0usize;
            for op in ops {
                match op {
                    Op::Push(n) => (0..n).for_each(|_| {
                        queue.push(next);
                        model.push_back(next);
                        next += 1;
                    }),
                    Op::PopFront => {
                        if in_taken == 0 {
                            proptest::prop_assert_eq!(queue.pop_front(), model.pop_front());
                        }
                    }
                    Op::TakeAll => {
                        if taken.is_empty() {
                            queue.take_all(&mut taken);
                            in_taken = model.len();
                            proptest::prop_assert!(queue.is_empty());
                        }
                    }
                    Op::PopTaken(n) => (0..n.min(in_taken)).try_for_each(|_| {
                        in_taken -= 1;
                        proptest::prop_assert_eq!(taken.pop_front(), model.pop_front());
                        Ok(())
                    })?,
                }
                proptest::prop_assert_eq!(queue.len() + in_taken, model.len());
            }
            let rest: Vec<u64> = taken.drain().chain(queue.drain()).collect();
            proptest::prop_assert_eq!(rest, Vec::from(model));
        }
    }
}
