//! The child side: [`init`] turns a re-executed copy of the application into the process of one
//! actor, whose loop (`run_actor`, in the crate's `runner.rs`) then handles what the host
//! delivers. What the loop reads and writes through is here: its channels, journal, ring and
//! what it has taken ahead are [`ChildIo`] (`io.rs`); its ends of direct routes, `routes.rs`.
//!
//! The host tells the child which actor type to run by where that type's entry record lies in
//! the executable, as an offset from `init` (`entry.rs`, which says how the child checks it
//! before calling anything): the child is the same executable image (`/proc/self/exe`, checked
//! by device and inode), so the same record lies at the same offset, whatever the address
//! space layout. This is how `procspawn` names functions, and it is why nothing has to be
//! registered.
//!
//! `procspawn` itself is not used: it runs one call in a process and hands back its result
//! (`spawn(args, f) -> JoinHandle<R>`, or a pool of such calls), where an actor's process is
//! long-lived and talks both ways. What this backend needs around that (a journal and a ring
//! that outlive the child, spare processes booted into an actor later, `PR_SET_PDEATHSIG` set
//! from threads that live as long as the system, the token check, and the exit status reaped
//! by the host for the supervisor) would sit beside it, not on it; and it would bring a second
//! `ipc-channel` (procspawn 1.0.2 is on 0.22, this crate on 0.23).

use std::os::unix::fs::MetadataExt;

use ipc_channel::ipc::{self, IpcSender};

use crate::os::bell::Bell;
use crate::os::journal;
use crate::os::ring;
use crate::os::wire::{ToChild, ToHost, Uplink};

pub(crate) mod entry;
mod io;
pub(crate) mod routes;
pub(crate) use entry::{EntryRecord, MAGIC};
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

/// This executable's identity, which a child checks against the host's.
pub(crate) fn image_identity() -> String {
    std::fs::metadata("/proc/self/exe")
        .map(|m| format!("{}:{}", m.dev(), m.ino()))
        .unwrap_or_default()
}

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
    // Read now, before the wait for a boot: what an entry is checked against.
    let image = entry::Image::of_this_process();
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
            io.directory = crate::os::directory::View::new(directory);
            for grant in routes {
                if !grant.switched {
                    io.send(ToHost::Switched { route: grant.route })?;
                }
                io.outgoing.add(grant)?;
            }
            for grant in sources {
                io.incoming.add(grant)?;
            }
            match entry::resolve(&entry, &image) {
                Ok(record) => (record.run)(io, actor),
                Err(refused) => {
                    let why = refused.to_string();
                    io.send(ToHost::Refused { why: why.clone() })?;
                    io.flush()?;
                    Err(why)
                }
            }
        }
        Ok(_) => Err("the host did not send Boot first".into()),
        Err(e) => Err(format!("boot: {e:?}")),
    }
}
