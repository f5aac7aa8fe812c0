//! [`ChildIo`]: an actor's process's side of its link to the host: its channels, its journal,
//! its ring, its direct routes (`child/routes.rs`), what it has taken and not handled yet, and
//! its clock. The actor's loop (`child.rs`) and its context (`context.rs`) reach the host and
//! other actors only through it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use actor_core::{ActorId, SendFailure, Signal};
use ipc_channel::ipc::{IpcReceiver, IpcSender};

use super::ABORT_AFTER_BATCH;
use super::routes::{Incoming, Outgoing};
use crate::os::bell::Bell;
use crate::os::directory::{Look, View};
use crate::os::journal;
use crate::os::packed::Packed;
use crate::os::ring;
use crate::os::wire::{DeliveryRef, Fence, ToChild, ToHost, TypeKey, Uplink};

/// Where the next message to handle is.
pub(crate) enum Next {
    /// The first delivery from the host.
    Host,
    /// The next message of direct route `i` (`Incoming`).
    Direct(usize),
}

/// Messages handled between two batches when the handlers have sent something (a reply
/// someone waits for, a message to a bounded mailbox that a burst would overflow): at most.
pub(crate) const PROGRESS_EVERY: usize = 128;

/// Messages handled between two reports of progress alone (nothing sent) by an actor with an
/// unbounded mailbox, which no sender waits on for room: a report every 128 messages cost the
/// router and the child about a fifth of a stream's CPU. Every 1,024, each report still took
/// the host's lock from a thread sending a stream, which then woke the router waiting on it
/// (a futex call at its unlock): every 4,096, one-way ran 57.6-67.8 ns a message against
/// 66.4-69.9 (`process_profile one-way 3000000`, alternated). Every 16,384: each report takes
/// the host's lock from the thread that holds its lease (`leased.rs`), a recall of some 15 µs
/// here; every 4,096 the recalls cost the lease all it saved (68.7 ns a message against 51.6,
/// medians of five). The host keeps the deliveries a report frees (some 330 KB of small
/// ones); the ring is freed as the process takes from it, not by reports. A process that runs
/// out of work reports at once.
const UNBOUNDED_PROGRESS_EVERY: usize = 16384;

/// How long a process that has found the ring empty keeps looking before it reports its
/// progress and sleeps on its bell: a sender a little slower than this process would otherwise
/// cost a report and a wake-up (an IPC write and two wake-ups) for every few messages.
const SPIN: Duration = Duration::from_micros(5);

/// The longest a process sleeps on its bell before it looks at its socket anyway: should the
/// host be gone without its death signal reaching this process (it always does on Linux), the
/// socket's closing ends it within this.
const SLEEP_AT_MOST: Duration = Duration::from_millis(250);

/// How long a process that has just written to a direct route keeps looking for work before
/// it sleeps, yielding its CPU between looks: an answer may come straight back, and must find
/// this process awake. Were it to sleep sooner than the receiver can be woken and answer (a
/// wake-up on another CPU costs some 25 µs here), each would find the other asleep at every
/// hop, and a conversation would pay two wake-ups a round trip for as long as it lasts.
const ANSWER_SPIN: Duration = Duration::from_micros(50);

/// How often an actor with this mailbox capacity reports its progress.
pub(crate) fn progress_every(capacity: Option<usize>) -> usize {
    if capacity.is_some() {
        PROGRESS_EVERY
    } else {
        UNBOUNDED_PROGRESS_EVERY
    }
}

/// The child's channels, its journal, its ring, what it has taken ahead, and its clock.
pub(crate) struct ChildIo {
    pub id: ActorId,
    to_host: IpcSender<Uplink>,
    from_host: IpcReceiver<ToChild>,
    journal: journal::Writer,
    /// Where the host writes deliveries.
    ring: ring::Consumer,
    /// What this process sleeps on when it has no work (`bell.rs`).
    bell: Bell,
    /// IPC messages read from the host, `Boot` included: while the host's count (in the
    /// ring's header) is no higher, none waits on the socket.
    received: u64,
    /// The last message finished, and the last one the host has been told of.
    finished: u64,
    reported: u64,
    /// Signals taken by this process, and how many the host has been told of.
    signals_taken: u64,
    signals_reported: u64,
    since_report: usize,
    /// What the handlers sent has left since this process last waited: an answer to it is a
    /// round trip away, too far to look at the ring for (see `wait`).
    sends_left: bool,
    /// Deliveries read and not yet handled, in the buffers they came in: the one being read,
    /// then the others (none empty).
    pub(crate) reading: Packed,
    deliveries: VecDeque<Packed>,
    /// Deliveries too big for the ring, each waiting for its marker there to be reached.
    by_socket: VecDeque<Packed>,
    signals: VecDeque<Signal>,
    /// `Restart`, `Shutdown` and `Spawned` answers, in arrival order.
    answers: VecDeque<ToChild>,
    pub(crate) shutdown: bool,
    booted: Instant,
    clock_offset: Duration,
    pub next_request: u64,
    pub next_token: u64,
    pub stop_requested: bool,
    /// The host's frame limit.
    pub max_frame: usize,
    /// Messages handled between two reports of progress, at most.
    pub(crate) progress_every: usize,
    /// Where a handler's message is encoded until its frame is in the journal: kept from one
    /// send to the next, so a send costs no allocation.
    scratch: Vec<u8>,
    /// The direct routes this process writes to, and those it reads from.
    pub outgoing: Outgoing,
    pub incoming: Incoming,
    /// Where a direct route's message is copied to be handled: kept from one to the next.
    pub(crate) direct_payload: Vec<u8>,
    /// What this process can read of every actor, to check a send at the call.
    pub(crate) directory: View,
}

impl ChildIo {
    pub(crate) fn new(
        id: ActorId,
        to_host: IpcSender<Uplink>,
        from_host: IpcReceiver<ToChild>,
        journal: journal::Writer,
        (ring, bell): (ring::Consumer, Bell),
        clock_offset: Duration,
        request_base: u64,
    ) -> Self {
        Self {
            id,
            to_host,
            from_host,
            journal,
            ring,
            bell,
            received: 1,
            finished: 0,
            reported: 0,
            signals_taken: 0,
            signals_reported: 0,
            since_report: 0,
            sends_left: false,
            reading: Packed::default(),
            deliveries: VecDeque::new(),
            by_socket: VecDeque::new(),
            signals: VecDeque::new(),
            answers: VecDeque::new(),
            shutdown: false,
            booted: Instant::now(),
            clock_offset,
            next_request: request_base,
            max_frame: usize::MAX,
            progress_every: PROGRESS_EVERY,
            next_token: 0,
            stop_requested: false,
            scratch: Vec::new(),
            outgoing: Outgoing::default(),
            incoming: Incoming::default(),
            direct_payload: Vec::new(),
            directory: View::default(),
        }
    }

    /// Whether a message of type `key` may go to `to` now, as a send from outside would be
    /// told, and, if `reserve`, its place taken in a bounded mailbox: the directory says
    /// (`directory.rs`), or, when it cannot (a receiver of another type, whose error names its
    /// type; an id on a page this process does not have), the host, a round trip away.
    pub fn admit(&mut self, to: ActorId, key: TypeKey, reserve: bool) -> Result<(), SendFailure> {
        match self.directory.look(to, key) {
            Look::Open(entry) if reserve => return entry.reserve(),
            Look::Open(_) => return Ok(()),
            Look::Refused(refusal) => return Err(refusal),
            Look::OtherType | Look::Unmapped => {}
        }
        self.send(ToHost::Check {
            to,
            msg_type: key,
            reserve,
        })
        .map_err(SendFailure::Transport)?;
        let answer = self.wait_answer(|m| matches!(m, ToChild::Checked { to: t, .. } if *t == to));
        match answer {
            Ok(ToChild::Checked { refusal, page, .. }) => {
                if let Some((index, memory)) = page {
                    self.directory.add(index, memory);
                }
                refusal.map_or(Ok(()), Err)
            }
            Ok(_) => Err(SendFailure::Transport("an unexpected answer".into())),
            Err(e) => Err(SendFailure::Transport(e)),
        }
    }

    /// Gives back the place [`admit`](Self::admit) reserved in `to`'s mailbox, for a message
    /// that could not be sent after all.
    pub fn release(&self, to: ActorId) {
        if let Some(entry) = self.directory.entry(to) {
            entry.release();
        }
    }

    /// Runs `f` with the scratch buffer, emptied. A buffer grown past 64 KiB by a big message
    /// is not kept.
    pub fn with_scratch<T>(&mut self, f: impl FnOnce(&mut Self, &mut Vec<u8>) -> T) -> T {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let result = f(self, &mut scratch);
        if scratch.capacity() <= 64 * 1024 {
            self.scratch = scratch;
        }
        result
    }

    /// The host's clock.
    pub fn now(&self) -> Duration {
        self.clock_offset + self.booted.elapsed()
    }

    /// Sends a frame to the host. It goes into the journal, where it survives this process,
    /// and leaves with the next batch; a frame too big for the journal is sent alone, at once,
    /// after the batch before it.
    pub fn send(&mut self, msg: ToHost<'_>) -> Result<(), String> {
        let append = |journal: &mut journal::Writer| {
            journal.append(|free| postcard::to_slice(&msg, free).ok().map(|used| used.len()))
        };
        if append(&mut self.journal) {
            return Ok(());
        }
        self.flush()?;
        if append(&mut self.journal) {
            return Ok(());
        }
        self.to_host
            .send(Uplink::Large(crate::os::wire::encode(&msg)?))
            .map_err(|e| format!("the host is gone: {e}"))
    }

    /// Sends the journal's frames and the progress made since the last batch, if any, in one
    /// IPC message.
    pub fn flush(&mut self) -> Result<(), String> {
        if self.journal.is_empty()
            && self.finished == self.reported
            && self.signals_taken == self.signals_reported
        {
            return Ok(());
        }
        let batch = Uplink::Batch {
            batch: self.journal.batch(),
            finished: self.finished,
            signals: self.signals_taken,
            frames: self.journal.frames(),
        };
        self.to_host
            .send(batch)
            .map_err(|e| format!("the host is gone: {e}"))?;
        if ABORT_AFTER_BATCH.load(std::sync::atomic::Ordering::Relaxed) {
            std::process::abort();
        }
        self.journal.next_batch();
        self.reported = self.finished;
        self.signals_reported = self.signals_taken;
        self.since_report = 0;
        Ok(())
    }

    /// Sends what the handlers sent, if anything (with the progress made): the replies a
    /// sender may be waiting for leave before this process looks for more work.
    pub(crate) fn flush_sends(&mut self) -> Result<(), String> {
        if self.journal.is_empty() {
            return Ok(());
        }
        self.sends_left = true;
        self.flush()
    }

    /// The handler of message `seq` begins: if this process dies before [`finish`], the host
    /// will know that message was in hand.
    ///
    /// [`finish`]: Self::finish
    pub(crate) fn begin(&mut self, seq: u64) {
        self.journal.begin(seq);
        self.incoming.host_begun = seq;
    }

    /// The handler of message `seq` returned. Reported to the host with the next batch, which
    /// leaves at once if enough messages have been handled since the last one.
    pub(crate) fn finish(&mut self, seq: u64) -> Result<(), String> {
        self.journal.finish(seq);
        self.finished = seq;
        self.progress()
    }

    /// The next signal, taken: once the journal says so, the host will not give it to another
    /// process should this one die (at most once, as for messages).
    pub(crate) fn take_signal(&mut self) -> Option<Signal> {
        let signal = self.signals.pop_front()?;
        self.signals_taken += 1;
        self.journal.took_signals(self.signals_taken);
        Some(signal)
    }

    /// One more message or signal done: reported with the next batch, which leaves at once if
    /// enough have been done since the last one.
    pub(crate) fn progress(&mut self) -> Result<(), String> {
        self.since_report += 1;
        // What the handlers sent leaves at the default pace; only a batch that would carry
        // progress alone waits longer.
        let due = if self.journal.is_empty() {
            self.progress_every
        } else {
            PROGRESS_EVERY
        };
        if self.since_report >= due {
            self.flush()?;
        }
        Ok(())
    }

    fn sort(&mut self, msg: ToChild) -> Result<(), String> {
        match msg {
            ToChild::Route(grant) => {
                // Before the route's first message: every send this process made through the
                // host is in the journal before this frame.
                self.send(ToHost::Switched { route: grant.route })?;
                self.outgoing.add(grant)?;
            }
            ToChild::Source(grant) => self.incoming.add(grant)?,
            ToChild::Deliver(packed) => self.by_socket.push_back(Packed::from_bytes(packed)),
            ToChild::Signal(signal) => self.signals.push_back(signal),
            ToChild::Shutdown => {
                self.shutdown = true;
                self.answers.push_back(ToChild::Shutdown);
            }
            other => self.answers.push_back(other),
        }
        Ok(())
    }

    pub(crate) fn has_deliveries(&self) -> bool {
        !self.reading.is_empty() || !self.deliveries.is_empty()
    }

    /// Whether a message waits to be handled: from the host, or from a direct route.
    pub(crate) fn has_work(&self) -> bool {
        self.has_deliveries() || self.incoming.has_ready()
    }

    /// Where the next message to handle is, if one waits. The host's deliveries and the
    /// direct routes take turns, but a delivery behind a fence waits for the route's messages
    /// before it, and a route's messages for its gate (`routes.rs`).
    pub(crate) fn next(&mut self) -> Result<Option<Next>, String> {
        if !self.has_deliveries() {
            return Ok(self.incoming.next_ready().map(Next::Direct));
        }
        // A route this process does not know is one it is done with (a fence naming it is
        // met): the host's grant of a route is counted before any delivery written after it,
        // and `take_ring` reads every counted message before the deliveries it took are
        // looked at. So with no route, the host's first delivery is next.
        if self.incoming.is_empty() {
            return Ok(Some(Next::Host));
        }
        if let Some(fence) = self.host_fence()? {
            if let Some(i) = self.incoming.index_of(fence.route)
                && self.incoming.read(i) < fence.written
                && self.incoming.has_message(i)
            {
                return Ok(Some(Next::Direct(i)));
            }
            return Ok(Some(Next::Host));
        }
        if let Some(i) = self.incoming.owed_before_host() {
            return Ok(Some(Next::Direct(i)));
        }
        if self.incoming.direct_turn()
            && let Some(i) = self.incoming.next_ready()
        {
            return Ok(Some(Next::Direct(i)));
        }
        Ok(Some(Next::Host))
    }

    /// The fence of the first delivery from the host, if it has one.
    fn host_fence(&mut self) -> Result<Option<Fence>, String> {
        self.settle_front()?;
        Ok(match self.reading.front() {
            // A plain message carries no fence.
            Some(Ok(record)) if record.is_plain() => None,
            Some(Ok(record)) => match record.delivery() {
                Ok(DeliveryRef::Message { after, .. } | DeliveryRef::AskOutcome { after, .. }) => {
                    after
                }
                Err(_) => None,
            },
            _ => None,
        })
    }

    /// Takes every record the ring holds; `Ok(false)` if it held none. A `patient` take, made
    /// while this process is at work, lets the host write on for a moment first
    /// (`ring::Consumer::take`); one made on waking is not.
    ///
    /// Then reads every message counted on the socket: a direct route granted before these
    /// records were written is counted by then (`link.rs`), and must be known before
    /// [`Incoming::took_from_host`] marks what the routes owe them.
    pub(crate) fn take_ring(&mut self, patient: bool) -> Result<bool, String> {
        let ring = &mut self.ring;
        if self.reading.is_empty() && self.deliveries.is_empty() {
            // The usual case: what was read is done with, and its buffer takes the new records.
            if !self.reading.refill(|bytes| ring.take(bytes, patient)) {
                return Ok(false);
            }
        } else {
            let mut bytes = Vec::new();
            if !ring.take(&mut bytes, patient) {
                return Ok(false);
            }
            self.deliveries.push_back(Packed::from_bytes(bytes));
        }
        if !self.incoming.is_empty() || self.ring.sent() > self.received {
            let sent = self.ring.sent();
            while self.received < sent {
                self.recv()?;
            }
            self.incoming.took_from_host();
        }
        // More work came after the sends left: the next wait is not for their answer.
        self.sends_left = false;
        Ok(true)
    }

    /// Makes `reading` the buffer whose first record is the next delivery (if there is one):
    /// a marker for a delivery that comes on the socket is replaced by that delivery, waited
    /// for if it has not come yet.
    pub(crate) fn settle_front(&mut self) -> Result<(), String> {
        if self.reading.is_empty() {
            self.reading = self.deliveries.pop_front().unwrap_or_default();
        }
        if self
            .reading
            .front()
            .is_some_and(|record| record.is_ok_and(|r| r.is_by_socket()))
        {
            self.reading.pop_front();
            let rest = std::mem::take(&mut self.reading);
            if !rest.is_empty() {
                self.deliveries.push_front(rest);
            }
            if self.by_socket.is_empty() {
                self.flush()?;
            }
            while self.by_socket.is_empty() {
                self.recv()?;
            }
            self.reading = self.by_socket.pop_front().unwrap_or_default();
        }
        Ok(())
    }

    /// Reads whatever has arrived on the socket, without waiting. `Err` when the host is gone.
    ///
    /// The host counts in the ring's header each message it writes on the socket, before it
    /// writes it, so while this process has read them all, looking costs a load from shared
    /// memory and no system call: cheap enough to do before every message. Else through
    /// `try_recv_timeout(0)`, not `try_recv`: on Linux ipc-channel's `try_recv` makes the
    /// socket non-blocking and back around its `recvmsg`, three system calls every time, where
    /// a zero-timeout `poll` costs one when nothing has arrived yet and two when something has.
    /// This process is the socket's only reader, so a message `poll` saw is still there for
    /// the `recvmsg`.
    pub(crate) fn read_ahead(&mut self) -> Result<(), String> {
        while self.ring.sent() > self.received {
            match self.from_host.try_recv_timeout(Duration::ZERO) {
                Ok(msg) => {
                    self.received += 1;
                    self.sort(msg)?;
                }
                Err(ipc_channel::TryRecvError::Empty) => return Ok(()),
                Err(e) => return Err(format!("the host is gone: {e:?}")),
            }
        }
        Ok(())
    }

    /// Waits for the socket's next message.
    fn recv(&mut self) -> Result<(), String> {
        let msg = self
            .from_host
            .recv()
            .map_err(|e| format!("the host is gone: {e:?}"))?;
        self.received += 1;
        self.sort(msg)
    }

    /// Waits for more work from the host: records in the ring, or a message on the socket.
    /// Looks at the ring for a moment first ([`SPIN`]), unless what it has just sent is likely
    /// to be what the next work waits on (a reply, the next hop of a ball); then reports what
    /// it is owed and sleeps on its bell, which the host rings after it writes to the ring or
    /// to the socket.
    pub(crate) fn wait(&mut self) -> Result<(), String> {
        if self.take_ring(true)? {
            return Ok(());
        }
        self.flush_sends()?;
        let wrote_direct = self.outgoing.take_wrote();
        let spin = if wrote_direct {
            ANSWER_SPIN
        } else if std::mem::take(&mut self.sends_left) {
            Duration::ZERO
        } else {
            SPIN
        };
        let since = Instant::now();
        while since.elapsed() < spin {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            if wrote_direct {
                // The receiver may share this CPU: let it run.
                std::thread::yield_now();
            }
            if self.ring.has_records() {
                self.take_ring(true)?;
                return Ok(());
            }
            if self.incoming.has_ready() {
                return Ok(());
            }
        }
        self.flush()?;
        let (ring, incoming) = (&self.ring, &self.incoming);
        let received = self.received;
        self.bell.sleep(
            || ring.has_records() || ring.sent() > received || incoming.has_ready(),
            SLEEP_AT_MOST,
        );
        if self.ring.sent() > self.received {
            // Counted before it is written: it is on its way.
            self.recv()?;
        } else if !self.ring.has_records() {
            // Rung for nothing, or the sleep ran out: is the host still there?
            match self.from_host.try_recv_timeout(Duration::ZERO) {
                Ok(msg) => {
                    self.received += 1;
                    self.sort(msg)?;
                }
                Err(ipc_channel::TryRecvError::Empty) => {}
                Err(e) => return Err(format!("the host is gone: {e:?}")),
            }
        }
        self.take_ring(false)?;
        Ok(())
    }

    /// Waits for an answer (`Restart`, `Shutdown`, `Spawned`) that `wanted` accepts, keeping
    /// everything else for later.
    pub fn wait_answer(&mut self, wanted: impl Fn(&ToChild) -> bool) -> Result<ToChild, String> {
        self.flush()?;
        loop {
            if let Some(at) = self.answers.iter().position(&wanted) {
                return self
                    .answers
                    .remove(at)
                    .ok_or_else(|| "lost an answer".to_string());
            }
            self.recv()?;
        }
    }
}
