//! The child side: [`init`] turns a re-executed copy of the application into the process of one
//! actor, and [`run_actor`] is that actor's loop: handle what the host delivers, record each
//! message's start and end in the journal, send what the handlers sent in batches, report
//! failures and wait for the supervisor's answer.
//!
//! The host tells the child which actor type to run by the address of `run_actor::<A>`, given
//! as an offset from `init`: the child is the same executable image (`/proc/self/exe`, checked
//! by device and inode), so the same function lies at the same offset, whatever the address
//! space layout. This is how `procspawn` does it, and it is why nothing has to be registered.

use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use actor_core::{Actor, ActorError, ActorId, AskError, Failure, Phase, Signal};
use ipc_channel::ipc::{self, IpcReceiver, IpcSender};

use crate::context::ProcessContext;
use crate::journal;
use crate::packed::Packed;
use crate::wire::{DeliveryRef, Payload, ToChild, ToHost, Uplink, decode};

/// Set in a child's environment: the name of the host's bootstrap server.
pub(crate) const SERVER_ENV: &str = "ACTOR_PROCESS_SERVER";
/// Set in a child's environment: the host's pid, and its executable's device and inode.
pub(crate) const HOST_ENV: &str = "ACTOR_PROCESS_HOST";
/// Set in a child's environment: a secret the child proves it is the one the host started with
/// (another user cannot read this process's environment).
pub(crate) const TOKEN_ENV: &str = "ACTOR_PROCESS_TOKEN";

/// Turns this process into an actor's process if it was started as one, and never returns in
/// that case; otherwise returns at once. Call it first thing in `main` (tests use
/// [`process_test_support!`](crate::process_test_support)).
///
/// # Example
/// ```no_run
/// backend_process::init(); // the first line of `main`
/// // ... the application, which may now spawn actors on a ProcessSystem
/// ```
pub fn init() {
    let Ok(server) = std::env::var(SERVER_ENV) else {
        return;
    };
    let code = match child_main(&server) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("actor process {}: {message}", std::process::id());
            70
        }
    };
    std::process::exit(code);
}

/// The channel to the host, retyped to send raw bytes: for fault-injection tests only.
static RAW_TO_HOST: std::sync::OnceLock<std::sync::Mutex<IpcSender<u8>>> =
    std::sync::OnceLock::new();

/// Set by a fault-injection test: abort right after the next batch is sent, before the
/// journal moves on to the next one (the host must not deliver that batch's frames twice).
pub(crate) static ABORT_AFTER_BATCH: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Sends a single byte that no `ToHost` decodes from (a varint with its continuation bit set and
/// nothing after it).
pub(crate) fn send_garbage() -> bool {
    RAW_TO_HOST
        .get()
        .is_some_and(|raw| raw.lock().is_ok_and(|raw| raw.send(0xFF).is_ok()))
}

/// The signature of `run_actor::<A>`, for every `A`.
type Entry = fn(ChildIo, Payload) -> Result<(), String>;

/// Where `run_actor::<A>` is, relative to `init`, for the host to send.
pub(crate) fn entry_of<A: Actor>() -> u64 {
    let entry: Entry = run_actor::<A>;
    (entry as usize).wrapping_sub(init as fn() as usize) as u64
}

/// This executable's identity, which a child checks against the host's.
pub(crate) fn image_identity() -> String {
    std::fs::metadata("/proc/self/exe")
        .map(|m| format!("{}:{}", m.dev(), m.ino()))
        .unwrap_or_default()
}

#[allow(unsafe_code)] // one `transmute`, explained below: the only way to name `run_actor::<A>`
fn child_main(server: &str) -> Result<(), String> {
    let host = std::env::var(HOST_ENV).map_err(|_| format!("{HOST_ENV} is not set"))?;
    let (host_pid, host_image) = host.split_once('/').ok_or("malformed host identity")?;
    let token: u64 = std::env::var(TOKEN_ENV)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or("no token")?;
    // Die with the host, even by SIGKILL; then check it is not already gone.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))?;
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    if parent.to_string() != host_pid {
        return Err("the host is gone".into());
    }
    if image_identity() != host_image {
        return Err("this executable is not the host's".into());
    }
    let to_host =
        IpcSender::<Uplink>::connect(server.to_string()).map_err(|e| format!("connect: {e}"))?;
    let _ = RAW_TO_HOST.set(std::sync::Mutex::new(
        to_host.clone().to_opaque().to::<u8>(),
    ));
    let (to_child, from_host) = ipc::channel::<ToChild>().map_err(|e| format!("channel: {e}"))?;
    to_host
        .send(Uplink::Hello { to_child, token })
        .map_err(|e| format!("hello: {e}"))?;
    match from_host.recv() {
        Ok(ToChild::Boot {
            entry,
            actor,
            id,
            clock_offset,
            request_base,
            max_frame,
            progress_every,
            journal,
        }) => {
            let address = (init as fn() as usize).wrapping_add(entry as usize);
            // SAFETY: `address` is `run_actor::<A>` for the actor type the host spawned: the
            // host computed `entry` as that function's offset from `init` in the same
            // executable image (this process re-executed `/proc/self/exe`, and its device and
            // inode were checked above), and code is at the same offsets in every process of one
            // image. `Entry` is exactly that function's type.
            let run = unsafe { std::mem::transmute::<usize, Entry>(address) };
            let journal = journal::Writer::new(journal).ok_or("the journal is too small")?;
            let mut io = ChildIo::new(id, to_host, from_host, journal, clock_offset, request_base);
            io.max_frame = max_frame;
            io.progress_every = progress_every.max(1);
            run(io, actor)
        }
        Ok(_) => Err("the host did not send Boot first".into()),
        Err(e) => Err(format!("boot: {e:?}")),
    }
}

/// Messages handled between two looks for more from the host (signals, shutdown), and between
/// two batches when the handlers have sent something (a reply someone waits for, a message to
/// a bounded mailbox that a burst would overflow): at most.
const PROGRESS_EVERY: usize = 128;

/// Messages handled between two reports of progress alone (nothing sent) by an actor with an
/// unbounded mailbox, which no sender waits on for room: a report every 128 messages cost the
/// router and the child about a fifth of a stream's CPU.
const UNBOUNDED_PROGRESS_EVERY: usize = 1024;

/// How often an actor with this mailbox capacity reports its progress.
pub(crate) fn progress_every(capacity: Option<usize>) -> usize {
    if capacity.is_some() {
        PROGRESS_EVERY
    } else {
        UNBOUNDED_PROGRESS_EVERY
    }
}

/// The child's channels, its journal, what it has read ahead, and its clock.
pub(crate) struct ChildIo {
    pub id: ActorId,
    to_host: IpcSender<Uplink>,
    from_host: IpcReceiver<ToChild>,
    journal: journal::Writer,
    /// IPC messages read from the host, `Boot` included (the host writes directly to a child
    /// that has read nearly all it was sent: see `link.rs`).
    received: u64,
    /// The last message finished, and the last one the host has been told of.
    finished: u64,
    reported: u64,
    /// Signals taken by this process, and how many the host has been told of.
    signals_taken: u64,
    signals_reported: u64,
    since_report: usize,
    /// Deliveries read and not yet handled, in the buffers they came in: the one being read,
    /// then the others (none empty).
    reading: Packed,
    deliveries: VecDeque<Packed>,
    signals: VecDeque<Signal>,
    /// `Restart`, `Shutdown` and `Spawned` answers, in arrival order.
    answers: VecDeque<ToChild>,
    shutdown: bool,
    booted: Instant,
    clock_offset: Duration,
    pub next_request: u64,
    pub next_token: u64,
    pub stop_requested: bool,
    /// The host's frame limit.
    pub max_frame: usize,
    /// Messages handled between two reports of progress, at most.
    progress_every: usize,
    /// Where a handler's message is encoded until its frame is in the journal: kept from one
    /// send to the next, so a send costs no allocation.
    scratch: Vec<u8>,
}

impl ChildIo {
    fn new(
        id: ActorId,
        to_host: IpcSender<Uplink>,
        from_host: IpcReceiver<ToChild>,
        journal: journal::Writer,
        clock_offset: Duration,
        request_base: u64,
    ) -> Self {
        Self {
            id,
            to_host,
            from_host,
            journal,
            received: 1,
            finished: 0,
            reported: 0,
            signals_taken: 0,
            signals_reported: 0,
            since_report: 0,
            reading: Packed::default(),
            deliveries: VecDeque::new(),
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
            .send(Uplink::Large(crate::wire::encode(&msg)?))
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
            received: self.received,
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

    /// The handler of message `seq` begins: if this process dies before [`finish`], the host
    /// will know that message was in hand.
    ///
    /// [`finish`]: Self::finish
    fn begin(&self, seq: u64) {
        self.journal.begin(seq);
    }

    /// The handler of message `seq` returned. Reported to the host with the next batch, which
    /// leaves at once if enough messages have been handled since the last one.
    fn finish(&mut self, seq: u64) -> Result<(), String> {
        self.journal.finish(seq);
        self.finished = seq;
        self.progress()
    }

    /// The next signal, taken: once the journal says so, the host will not give it to another
    /// process should this one die (at most once, as for messages).
    fn take_signal(&mut self) -> Option<Signal> {
        let signal = self.signals.pop_front()?;
        self.signals_taken += 1;
        self.journal.took_signals(self.signals_taken);
        Some(signal)
    }

    /// One more message or signal done: reported with the next batch, which leaves at once if
    /// enough have been done since the last one.
    fn progress(&mut self) -> Result<(), String> {
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

    fn sort(&mut self, msg: ToChild) {
        match msg {
            ToChild::Deliver(packed) => {
                let packed = Packed::from_bytes(packed);
                if !packed.is_empty() {
                    self.deliveries.push_back(packed);
                }
            }
            ToChild::Signal(signal) => self.signals.push_back(signal),
            ToChild::Shutdown => {
                self.shutdown = true;
                self.answers.push_back(ToChild::Shutdown);
            }
            other => self.answers.push_back(other),
        }
    }

    fn has_deliveries(&self) -> bool {
        !self.reading.is_empty() || !self.deliveries.is_empty()
    }

    /// The buffer to read the next delivery from, taken out (empty if there is none).
    fn take_reading(&mut self) -> Packed {
        if self.reading.is_empty() {
            self.deliveries.pop_front().unwrap_or_default()
        } else {
            std::mem::take(&mut self.reading)
        }
    }

    /// Reads whatever has arrived, without waiting. `Err` when the host is gone.
    fn read_ahead(&mut self) -> Result<(), String> {
        loop {
            match self.from_host.try_recv() {
                Ok(msg) => {
                    self.received += 1;
                    self.sort(msg);
                }
                Err(ipc_channel::TryRecvError::Empty) => return Ok(()),
                Err(e) => return Err(format!("the host is gone: {e:?}")),
            }
        }
    }

    /// Waits for the next message from the host, after sending what it is owed.
    fn wait(&mut self) -> Result<(), String> {
        self.flush()?;
        let msg = self
            .from_host
            .recv()
            .map_err(|e| format!("the host is gone: {e:?}"))?;
        self.received += 1;
        self.sort(msg);
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
            self.wait()?;
        }
    }
}

/// An `ask` this actor made: turns the outcome into a message for it.
pub(crate) type Completion<M> = Box<dyn FnOnce(Result<Payload, AskError>) -> M>;

/// The actor's state and the asks it is waiting on.
pub(crate) struct Runner<A: Actor> {
    initial: A,
    current: A,
    pub asks: HashMap<u64, Completion<A::Msg>>,
}

fn caught<T>(run: impl FnOnce() -> Result<T, ActorError>) -> Result<T, Failure> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(result) => result.map_err(ActorError::into_failure),
        Err(payload) => Err(Failure::from_panic(payload.as_ref())),
    }
}

/// How an actor's process ends.
enum End {
    /// Stopped (by itself or by shutdown): exit normally.
    Exit,
}

/// The loop of an actor's process. Every message's start and end are recorded in the journal
/// before and after its handler, so that if this process dies the host knows which message was
/// in hand: that one is dead-lettered, the ones after it go to the restarted actor.
pub(crate) fn run_actor<A: Actor>(mut io: ChildIo, actor: Payload) -> Result<(), String> {
    let initial: A = decode(&actor)?;
    let mut runner = Runner {
        current: initial.clone(),
        initial,
        asks: HashMap::new(),
    };
    let End::Exit = runner.serve(&mut io)?;
    Ok(())
}

impl<A: Actor> Runner<A> {
    fn serve(&mut self, io: &mut ChildIo) -> Result<End, String> {
        self.start(io)?;
        if io.stop_requested {
            // `ctx.stop()` in `started`.
            return self.exit(io);
        }
        // Reading ahead costs a system call even when nothing has come: do it when the
        // deliveries in hand run out, and every so often to see signals and shutdown in time.
        // When they run out, what the handlers sent leaves first: the replies a sender may be
        // waiting for go before this process looks for more work.
        let mut since_read = 0;
        loop {
            if !io.has_deliveries() {
                io.flush()?;
            }
            if !io.has_deliveries() || since_read >= PROGRESS_EVERY {
                io.read_ahead()?;
                since_read = 0;
            }
            since_read += 1;
            if io.shutdown {
                return self.exit(io);
            }
            if let Some(signal) = io.take_signal() {
                let result = {
                    let mut ctx = ProcessContext::new(io, &mut self.asks);
                    caught(|| self.current.signal(&mut ctx, signal))
                };
                match result {
                    Ok(()) => io.progress()?,
                    Err(failure) => self.fail(io, None, Phase::Signal, failure)?,
                }
            } else if io.has_deliveries() {
                // Out of `io` while its first delivery is handled: the handler borrows `io`.
                let mut reading = io.take_reading();
                let handled = self.deliver(io, &reading);
                reading.pop_front();
                io.reading = reading;
                handled?;
            } else {
                io.wait()?;
                continue;
            }
            if io.stop_requested {
                return self.exit(io);
            }
        }
    }

    /// Runs `stopped`, tells the host, and sends the last batch.
    fn exit(&mut self, io: &mut ChildIo) -> Result<End, String> {
        self.stopped(io)?;
        io.send(ToHost::Stopped)?;
        io.flush()?;
        Ok(End::Exit)
    }

    /// Runs `started` until it succeeds or the supervisor gives up.
    fn start(&mut self, io: &mut ChildIo) -> Result<(), String> {
        loop {
            let result = {
                let mut ctx = ProcessContext::new(io, &mut self.asks);
                caught(|| self.current.started(&mut ctx))
            };
            match result {
                Ok(()) => return io.send(ToHost::Started),
                Err(failure) => {
                    io.send(ToHost::Failed {
                        seq: None,
                        phase: Phase::Started,
                        failure,
                    })?;
                    self.await_decision(io)?;
                }
            }
        }
    }

    /// Handles the first delivery in `reading`, decoding its message where it lies. `Err` if
    /// the bytes from the host are not deliveries at all (nothing after them can be framed, so
    /// this process cannot go on).
    fn deliver(&mut self, io: &mut ChildIo, reading: &Packed) -> Result<(), String> {
        let record = match reading.front() {
            Some(record) => record?,
            None => return Ok(()),
        };
        let seq = record.seq;
        io.begin(seq);
        let msg = match record.delivery() {
            Ok(DeliveryRef::Message { payload, .. }) => {
                decode::<A::Msg>(payload.0).map_err(Failure::Transport)
            }
            Ok(DeliveryRef::AskOutcome { request, outcome }) => match self.asks.remove(&request) {
                // The asker's own closure: a panic in it is this actor's failure.
                Some(complete) => {
                    let outcome = outcome.map(|reply| reply.0.to_vec());
                    caught(|| Ok(complete(outcome)))
                }
                // Nobody waits for it (a previous instance asked): nothing to do.
                None => return io.finish(seq),
            },
            Err(e) => Err(Failure::Transport(e)),
        };
        let result = msg.and_then(|msg| {
            let mut ctx = ProcessContext::new(io, &mut self.asks);
            caught(|| self.current.handle(&mut ctx, msg))
        });
        match result {
            Ok(()) => io.finish(seq),
            // Not `finish`ed: should this process die before the host reads the `Failed`
            // frame, the journal still says the message was in hand.
            Err(failure) => self.fail(io, Some(seq), Phase::Handle, failure),
        }
    }

    /// Reports a failure and waits for the supervisor: restart here, or exit.
    fn fail(
        &mut self,
        io: &mut ChildIo,
        seq: Option<u64>,
        phase: Phase,
        failure: Failure,
    ) -> Result<(), String> {
        self.stopped(io)?;
        io.send(ToHost::Failed {
            seq,
            phase,
            failure,
        })?;
        self.await_decision(io)?;
        self.start(io)
    }

    fn await_decision(&mut self, io: &mut ChildIo) -> Result<(), String> {
        match io.wait_answer(|m| matches!(m, ToChild::Restart | ToChild::Shutdown))? {
            ToChild::Restart => {
                self.current = self.initial.clone();
                self.asks.clear();
                io.stop_requested = false;
                Ok(())
            }
            // The supervisor gave up: this process ends (the host expects it).
            _ => std::process::exit(0),
        }
    }

    fn stopped(&mut self, io: &mut ChildIo) -> Result<(), String> {
        if let Err(failure) = caught(|| {
            self.current.stopped();
            Ok(())
        }) {
            io.send(ToHost::StoppedFailed { failure })?;
        }
        Ok(())
    }
}
