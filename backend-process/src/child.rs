//! The child side: [`init`] turns a re-executed copy of the application into the process of one
//! actor, and [`run_actor`] is that actor's loop: handle what the host delivers, record each
//! message's start and end in the journal, send what the handlers sent in batches, report
//! failures and wait for the supervisor's answer. Its channels, journal, ring and what it has
//! taken ahead are [`ChildIo`] (`child/io.rs`).
//!
//! The host tells the child which actor type to run by the address of `run_actor::<A>`, given
//! as an offset from `init`: the child is the same executable image (`/proc/self/exe`, checked
//! by device and inode), so the same function lies at the same offset, whatever the address
//! space layout. This is how `procspawn` does it, and it is why nothing has to be registered.
//!
//! `procspawn` itself is not used: it runs one call in a process and hands back its result
//! (`spawn(args, f) -> JoinHandle<R>`, or a pool of such calls), where an actor's process is
//! long-lived and talks both ways. What this backend needs around that (a journal and a ring
//! that outlive the child, spare processes booted into an actor later, `PR_SET_PDEATHSIG` set
//! from threads that live as long as the system, the token check, and the exit status reaped
//! by the host for the supervisor) would sit beside it, not on it; and it would bring a second
//! `ipc-channel` (procspawn 1.0.2 is on 0.22, this crate on 0.23).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use actor_core::kernel::{Caught, catch, catch_stopped};
use actor_core::{Actor, AskError, Failure, Phase};
use ipc_channel::ipc::{self, IpcSender};

use crate::bell::Bell;
use crate::context::ProcessContext;
use crate::journal;
use crate::packed::Record;
use crate::ring;
use crate::wire::{DeliveryRef, Fence, Payload, ToChild, ToHost, Uplink, decode};

mod io;
pub(crate) mod routes;
pub(crate) use io::{ChildIo, Next, progress_every};

/// Set in a child's environment: the name of the host's bootstrap server.
pub(crate) const SERVER_ENV: &str = "ACTOR_PROCESS_SERVER";
/// Set in a child's environment: the host's pid, and its executable's device and inode.
pub(crate) const HOST_ENV: &str = "ACTOR_PROCESS_HOST";
/// Set in a child's environment by a test (`fault_injection::children_without_death_signal`):
/// the child does not ask to die with the host, so that only its closed channel tells it.
pub(crate) const NO_DEATH_SIGNAL_ENV: &str = "ACTOR_PROCESS_NO_DEATH_SIGNAL";
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

/// Set by a fault-injection test (`fault_injection::ignore_frame_limit`): sends over the frame
/// limit go to the host, which must refuse them itself.
pub(crate) static IGNORE_FRAME_LIMIT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

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
    if std::env::var_os(NO_DEATH_SIGNAL_ENV).is_none() {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
            .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))?;
    }
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
            ring,
            bell,
            routes,
            sources,
            directory,
        }) => {
            let address = (init as fn() as usize).wrapping_add(entry as usize);
            // SAFETY: `address` is `run_actor::<A>` for the actor type the host spawned: the
            // host computed `entry` as that function's offset from `init` in the same
            // executable image (this process re-executed `/proc/self/exe`, and its device and
            // inode were checked above), and code is at the same offsets in every process of one
            // image. `Entry` is exactly that function's type.
            let run = unsafe { std::mem::transmute::<usize, Entry>(address) };
            let journal = journal::Writer::new(journal).ok_or("the journal is too small")?;
            let ring = ring::Consumer::new(ring).ok_or("the ring is too small")?;
            let bell = Bell::new(bell).ok_or("the bell is too small")?;
            let mut io = ChildIo::new(
                id,
                to_host,
                from_host,
                journal,
                (ring, bell),
                clock_offset,
                request_base,
            );
            io.max_frame = max_frame;
            io.progress_every = progress_every.max(1);
            io.directory = crate::directory::View::new(directory);
            for grant in routes {
                if !grant.switched {
                    io.send(ToHost::Switched { route: grant.route })?;
                }
                io.outgoing.add(grant)?;
            }
            for grant in sources {
                io.incoming.add(grant)?;
            }
            run(io, actor)
        }
        Ok(_) => Err("the host did not send Boot first".into()),
        Err(e) => Err(format!("boot: {e:?}")),
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

/// A delivery from the host, opened (`Runner::open`).
enum Opened<M> {
    /// A message to handle (or the reason it cannot be).
    Message(Result<M, Failure>),
    /// The outcome of an ask, for the closure that turns it into a message.
    Outcome(Completion<M>, Result<Payload, AskError>),
    /// The outcome of an ask nobody waits for.
    Unawaited,
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
        // Deliveries come in the ring, taken when those in hand run out, and in the direct
        // routes from other actors, read in place (`io.next` picks which is next). When there
        // is nothing to handle, what the handlers sent through the host leaves first: the
        // replies a sender may be waiting for go before this process looks for more work.
        // Signals, shutdown and answers come on the socket, looked at before every message (a
        // load from shared memory unless one has come).
        loop {
            if !io.has_work() {
                io.flush_sends()?;
            }
            // Looked at while direct routes have work too, or what comes through the host
            // would wait for them to run dry.
            if !io.has_deliveries() {
                io.take_ring(true)?;
            }
            io.read_ahead()?;
            if io.shutdown {
                return self.exit(io);
            }
            if let Some(signal) = io.take_signal() {
                let result = {
                    let mut ctx = ProcessContext::new(io, &mut self.asks);
                    catch(Phase::Signal, || self.current.signal(&mut ctx, signal))
                };
                match result {
                    Ok(()) => io.progress()?,
                    Err(caught) => self.fail(io, None, caught)?,
                }
            } else {
                match io.next()? {
                    Some(Next::Host) => self.deliver(io)?,
                    Some(Next::Direct(i)) => self.deliver_direct(io, i)?,
                    None => {
                        io.wait()?;
                        continue;
                    }
                }
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
                catch(Phase::Started, || self.current.started(&mut ctx))
            };
            match result {
                Ok(()) => return io.send(ToHost::Started),
                Err(caught) => {
                    io.send(ToHost::Failed {
                        seq: None,
                        direct: None,
                        phase: caught.phase,
                        failure: caught.failure,
                    })?;
                    self.await_decision(io)?;
                }
            }
        }
    }

    /// Handles the first delivery from the host. Its message is decoded out of the record
    /// where it lies, and the record dropped, before the handler runs: the handler borrows
    /// `io`, the record's buffer with it. `Err` if the bytes from the host are not deliveries
    /// at all (nothing after them can be framed, so this process cannot go on).
    fn deliver(&mut self, io: &mut ChildIo) -> Result<(), String> {
        io.settle_front()?;
        let (seq, fence, opened, taken) = {
            let record = match io.reading.front() {
                Some(record) => record?,
                None => return Ok(()),
            };
            let (fence, opened) = self.open(&record);
            (record.seq, fence, opened, record.bytes.len())
        };
        io.reading.drop_front(taken, 1);
        io.begin(seq);
        // Past its fence, a route its sender gave up may be done with.
        if let Some(fence) = fence
            && io.incoming.retire(fence)
        {
            io.send(ToHost::RouteDone { route: fence.route })?;
        }
        let msg = match opened {
            Opened::Message(msg) => msg.map_err(|failure| Caught {
                phase: Phase::Handle,
                failure,
            }),
            // The asker's own closure: a panic in it is this actor's failure.
            Opened::Outcome(complete, outcome) => catch(Phase::Handle, || Ok(complete(outcome))),
            // Nobody waits for it (a previous instance asked): nothing to do.
            Opened::Unawaited => return io.finish(seq),
        };
        let result = msg.and_then(|msg| {
            let mut ctx = ProcessContext::new(io, &mut self.asks);
            catch(Phase::Handle, || self.current.handle(&mut ctx, msg))
        });
        match result {
            Ok(()) => io.finish(seq),
            // Not `finish`ed: should this process die before the host reads the `Failed`
            // frame, the journal still says the message was in hand.
            Err(caught) => self.fail(io, Some(seq), caught),
        }
    }

    /// What a delivery from the host holds, decoded into values of their own, and its fence.
    /// A plain message (most deliveries) is decoded straight from the record's body.
    fn open(&mut self, record: &Record<'_>) -> (Option<Fence>, Opened<A::Msg>) {
        let decoded = |payload: &[u8]| Opened::Message(decode(payload).map_err(Failure::Transport));
        if let Some(body) = record.plain_body() {
            return (None, decoded(body));
        }
        match record.delivery() {
            Ok(DeliveryRef::Message { payload, after, .. }) => (after, decoded(payload.0)),
            Ok(DeliveryRef::AskOutcome {
                request,
                outcome,
                after,
            }) => (
                after,
                match self.asks.remove(&request) {
                    Some(complete) => {
                        Opened::Outcome(complete, outcome.map(|reply| reply.0.to_vec()))
                    }
                    None => Opened::Unawaited,
                },
            ),
            Err(e) => (None, Opened::Message(Err(Failure::Transport(e)))),
        }
    }

    /// Handles the next message of direct route `i` (`child/routes.rs`). The route says it
    /// was begun, and is freed once it is done with: should this process die between the
    /// two, the host knows it was in hand.
    fn deliver_direct(&mut self, io: &mut ChildIo, i: usize) -> Result<(), String> {
        let mut payload = std::mem::take(&mut io.direct_payload);
        if !io.incoming.begin(i, &mut payload) {
            io.direct_payload = payload;
            return Ok(());
        }
        let (route, place) = (io.incoming.route(i), io.incoming.read(i));
        let decoded = decode::<A::Msg>(&payload);
        io.direct_payload = payload;
        let msg = match decoded {
            Ok(msg) => msg,
            // Bytes that no message decodes from are the sender's fault (as a frame that does
            // not decode is), not this actor's, which goes on. Reported before the route moves
            // past the message, as a failure is, so that it is counted dead once.
            Err(error) => {
                io.send(ToHost::Undecodable {
                    route,
                    place,
                    error,
                })?;
                io.flush()?;
                io.incoming.finish(i);
                return io.progress();
            }
        };
        let result = {
            let mut ctx = ProcessContext::new(io, &mut self.asks);
            catch(Phase::Handle, || self.current.handle(&mut ctx, msg))
        };
        match result {
            Ok(()) => {
                io.incoming.finish(i);
                io.progress()
            }
            Err(Caught { phase, failure }) => {
                self.stopped(io)?;
                // Should this process die before the host reads the report, the route still
                // says the message was in hand; after, the report says it: counted once.
                io.send(ToHost::Failed {
                    seq: None,
                    direct: Some((route, place)),
                    phase,
                    failure,
                })?;
                // The report leaves before the route moves past the message: the host has it
                // (and counts the message dead) before the route stops saying it is in hand.
                io.flush()?;
                io.incoming.finish(i);
                self.await_decision(io)?;
                self.start(io)
            }
        }
    }

    /// Reports a failure and waits for the supervisor: restart here, or exit.
    fn fail(&mut self, io: &mut ChildIo, seq: Option<u64>, caught: Caught) -> Result<(), String> {
        self.stopped(io)?;
        io.send(ToHost::Failed {
            seq,
            direct: None,
            phase: caught.phase,
            failure: caught.failure,
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
        if let Err(caught) = catch_stopped(|| self.current.stopped()) {
            io.send(ToHost::StoppedFailed {
                failure: caught.failure,
            })?;
        }
        Ok(())
    }
}
