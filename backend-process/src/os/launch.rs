//! Starting an actor's process: this executable re-executed, connected to the host over a
//! private bootstrap socket, and proven to be the child the host started.
//!
//! Starting a process takes about a millisecond here (most of it the `exec` and the dynamic
//! loader), and for that time whoever starts it waits. So a [`Launcher`] thread keeps spare
//! processes started ahead of need (none until the first spawn, then
//! [`ProcessConfig::spare_processes`](crate::ProcessConfig::spare_processes)), each connected
//! and waiting for the `Boot` that makes it a given actor: a spawn or a restart then costs a
//! boot, not an `exec`. When no spare is ready (a burst of spawns, a restart storm), the actor
//! waits for the next one (`boot.rs`) while the host goes on routing everyone else's messages:
//! the router never waits for a process to start. (With no spares configured, the router
//! starts each process itself.)

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use ipc_channel::ipc::{IpcOneShotServer, IpcReceiver, IpcSender};

use crate::os::child::{HOST_ENV, NO_DEATH_SIGNAL_ENV, SERVER_ENV, TOKEN_ENV, image_identity};
use crate::os::wire::{ToChild, Uplink};

/// The test-harness filter that makes a re-executed test binary run only the test that calls
/// [`init`](crate::init) (see [`process_test_support!`](crate::process_test_support)); an
/// application's `main` calls `init` before it looks at its arguments.
pub(crate) const CHILD_TEST: &str = "__actor_process_child";

/// How long a child may take to connect before it is killed.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// For tests (`fault_injection::delay_process_starts`): milliseconds added to every process
/// start, to make the launcher slow on purpose.
pub(crate) static START_DELAY_MS: AtomicU64 = AtomicU64::new(0);

/// For tests (`fault_injection::pause_after_bootstrap_bind`): milliseconds the launch waits
/// right after making its bootstrap server, holding open the moment in which a server not
/// private from its creation could be reached.
pub(crate) static BOOTSTRAP_PAUSE_MS: AtomicU64 = AtomicU64::new(0);

/// For tests (`fault_injection::fail_process_starts`): every process start fails.
pub(crate) static START_FAILS: AtomicBool = AtomicBool::new(false);

/// For tests (`fault_injection::children_without_death_signal`): the children started from now
/// on do not set `PR_SET_PDEATHSIG`.
pub(crate) static NO_DEATH_SIGNAL: AtomicBool = AtomicBool::new(false);

/// For tests (`fault_injection::impostor_connects_first`): the next start's bootstrap socket is
/// connected to, before the child exists, by someone who does not know the token; the start's
/// outcome is told here.
pub(crate) static IMPOSTOR: Mutex<Option<std::sync::mpsc::Sender<String>>> = Mutex::new(None);

/// A started, connected child process, waiting for its `Boot`.
pub(crate) struct Launched {
    pub process: Child,
    pub receiver: IpcReceiver<Uplink>,
    pub sender: IpcSender<ToChild>,
}

impl Launched {
    /// Kills and reaps a process that will not be used.
    pub fn discard(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The thread that starts spare processes, and the spares it has ready.
///
/// Children die with the thread that started them (`PR_SET_PDEATHSIG`), so the launcher
/// thread, like the router, must live until every child is gone: [`Launcher::stop`] comes last
/// in a shutdown.
pub(crate) struct Launcher {
    spares: usize,
    /// One token asks the thread for one spare.
    demand: Option<Sender<()>>,
    ready: Receiver<Launched>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    primed: bool,
    /// Since when every start has failed, and why the latest did (`None` once one succeeds):
    /// what an actor waiting for a process is failed with, if it lasts.
    failing: Arc<Mutex<Option<(Instant, String)>>>,
}

impl Launcher {
    /// Starts the thread (idle until the first spawn) if `spares` is not zero. `made` is
    /// called each time a spare is ready (it wakes the router, for an actor that waits).
    pub fn start(spares: usize, made: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let notify = made;
        let (demand, wanted) = crossbeam_channel::unbounded::<()>();
        let (made, ready) = bounded(spares.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let failing = Arc::new(Mutex::new(None));
        let thread = if spares == 0 {
            None
        } else {
            let stop = Arc::clone(&stop);
            let failing = Arc::clone(&failing);
            Some(
                std::thread::Builder::new()
                    .name("actors-process-launcher".into())
                    .spawn(move || {
                        for () in wanted {
                            // A spare whose start failed is tried again a little later (an actor
                            // waiting for one is failed if the failures last: see `boot.rs`).
                            // The thread must not end while its children live, so a panic here
                            // is caught, not let unwind out of it.
                            let spare = loop {
                                if stop.load(SeqCst) {
                                    return;
                                }
                                let why = match std::panic::catch_unwind(launch) {
                                    Ok(Ok(spare)) => break spare,
                                    Ok(Err(why)) => why,
                                    Err(_) => "starting a process panicked".to_string(),
                                };
                                let mut failing = failing
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                let since = failing.take().map_or_else(Instant::now, |(t, _)| t);
                                *failing = Some((since, why));
                                drop(failing);
                                std::thread::sleep(Duration::from_millis(100));
                            };
                            *failing
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                            if let Err(unused) = made.send(spare) {
                                unused.into_inner().discard();
                            }
                            notify();
                        }
                    })?,
            )
        };
        Ok(Self {
            spares,
            demand: Some(demand),
            ready,
            stop,
            thread,
            primed: false,
            failing,
        })
    }

    /// A started process: a spare if one is ready and alive (`None` if not: one is on its way,
    /// and `made` will say when); with no spares configured, one started now, on the calling
    /// thread (the router, which lives as long as the system).
    pub fn try_take(&mut self) -> Option<Result<Launched, String>> {
        if self.thread.is_none() {
            return Some(launch());
        }
        let demand = |n: usize| {
            if let Some(demand) = &self.demand {
                for _ in 0..n {
                    let _ = demand.send(());
                }
            }
        };
        if !self.primed {
            self.primed = true;
            demand(self.spares);
        }
        // Every spare taken is replaced, so while none is ready at least one is being started.
        while let Ok(mut spare) = self.ready.try_recv() {
            demand(1);
            if matches!(spare.process.try_wait(), Ok(None)) {
                return Some(Ok(spare));
            }
            spare.discard();
        }
        None
    }

    /// Since when every start of a spare has failed, and why the latest did; `None` if the
    /// latest succeeded.
    pub fn failing(&self) -> Option<(Instant, String)> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops the thread and discards the spares. Call it once every child is gone.
    pub fn stop(&mut self) {
        self.stop.store(true, SeqCst);
        self.demand = None;
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() {
                self.ready.try_iter().for_each(Launched::discard);
                std::thread::sleep(Duration::from_micros(200));
            }
            let _ = thread.join();
        }
        self.ready.try_iter().for_each(Launched::discard);
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a child process of this executable and connects to it. `accept` has no timeout and
/// never returns if the child dies first, so it runs on a helper thread that this function
/// unblocks itself (by connecting) when the child does not.
///
/// The bootstrap socket must be reachable by no other local user at any moment: it is made by
/// [`private_server`], private from its creation. Whoever connects first must then prove it
/// is the child, with a random token passed in its environment (unreadable by other users).
/// (The kernel's word on who connected, `SO_PEERCRED`, would do as well, but ipc-channel's
/// `accept` keeps the connection's descriptor to itself.)
pub(crate) fn launch() -> Result<Launched, String> {
    let delay = START_DELAY_MS.load(Relaxed);
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
    if START_FAILS.load(Relaxed) {
        return Err("process starts fail (fault injection)".into());
    }
    let (server, name) = private_server()?;
    let token = secret();
    let impostor = IMPOSTOR.lock().ok().and_then(|mut told| told.take());
    if impostor.is_some() {
        connect_as_impostor(&name, token.wrapping_add(1));
    }
    let launched = start(server, name, token);
    if let Some(told) = impostor {
        let _ = told.send(
            launched
                .as_ref()
                .map_or_else(Clone::clone, |_| "accepted".into()),
        );
    }
    launched
}

/// Connects to a bootstrap socket and says hello with the wrong token.
fn connect_as_impostor(name: &str, token: u64) {
    if let (Ok((to_child, _)), Ok(host)) = (
        ipc_channel::ipc::channel::<ToChild>(),
        IpcSender::<Uplink>::connect(name.to_string()),
    ) {
        let _ = host.send(Uplink::Hello { to_child, token });
    }
}

/// Starts the child that is to connect to `server` (called `name`), and waits until it has.
fn start(server: IpcOneShotServer<Uplink>, name: String, token: u64) -> Result<Launched, String> {
    let mut command = Command::new("/proc/self/exe");
    command
        .args([CHILD_TEST, "--nocapture", "--quiet", "--test-threads=1"])
        .env(SERVER_ENV, &name)
        .env(TOKEN_ENV, token.to_string())
        .env(
            HOST_ENV,
            format!("{}/{}", std::process::id(), image_identity()),
        )
        .stdin(Stdio::null());
    if NO_DEATH_SIGNAL.load(Relaxed) {
        command.env(NO_DEATH_SIGNAL_ENV, "1");
    }
    let mut process = command.spawn().map_err(|e| format!("spawn: {e}"))?;
    let (accepted, accepting) = bounded(1);
    if let Err(e) = std::thread::Builder::new()
        .name("actors-process-accept".into())
        .spawn(move || drop(accepted.send(server.accept())))
    {
        return Err(fail(process, &format!("accept thread: {e}")));
    }
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match accepting.recv_timeout(Duration::from_millis(5)) {
            Ok(Ok((
                receiver,
                Uplink::Hello {
                    to_child,
                    token: proof,
                },
            ))) if proof == token => {
                return Ok(Launched {
                    process,
                    receiver,
                    sender: to_child,
                });
            }
            Ok(Ok((_, Uplink::Hello { .. }))) => {
                return Err(fail(process, "a process without the token connected first"));
            }
            Ok(Ok(_)) => return Err(fail(process, "the child did not say hello first")),
            Ok(Err(e)) => return Err(fail(process, &format!("accept: {e:?}"))),
            Err(_) => {
                let exited = matches!(process.try_wait(), Ok(Some(_)));
                if exited || Instant::now() > deadline {
                    // Unblock the helper thread's accept, then give up.
                    if let Ok(unblock) = IpcSender::<Uplink>::connect(name.clone()) {
                        let _ = unblock.send(Uplink::Large(Vec::new()));
                    }
                    let _ = accepting.recv_timeout(Duration::from_secs(1));
                    return Err(fail(process, "the child did not connect"));
                }
            }
        }
    }
}

/// Makes the bootstrap server, private to this user from the moment it exists.
///
/// ipc-channel binds the socket in a fresh temporary directory it creates with the umask of the
/// calling thread: under a permissive umask (022 lists the directory to everyone, 000 lets
/// anyone connect) another local user watching the temporary directory could list it, or
/// connect and hold the connection, stalling the start until its timeout, in the moment
/// before the directory could be narrowed. So the server is made on a thread of its own whose
/// file-system context (umask, working directory) is unshared from the process's, with the
/// umask set to 077: the directory is created 0700 and the socket 0700, and no other thread's
/// umask, nor the children's, changes. Its modes are then checked: a start fails rather than
/// use a server that is not private.
#[allow(unsafe_code)] // one `unshare`, explained below
fn private_server() -> Result<(IpcOneShotServer<Uplink>, String), String> {
    let made = std::thread::Builder::new()
        .name("actors-process-bootstrap".into())
        .spawn(|| {
            // SAFETY: `FS` unshares only this thread's umask, root and working directory (no
            // file descriptor table, the hazard `unshare_unsafe` warns of), and this thread
            // only makes the server and ends.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }
                .map_err(|e| format!("unshare(CLONE_FS): {e}"))?;
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
            let made = IpcOneShotServer::<Uplink>::new();
            let pause = BOOTSTRAP_PAUSE_MS.load(Relaxed);
            if pause > 0 {
                std::thread::sleep(Duration::from_millis(pause));
            }
            made.map_err(|e| format!("bootstrap server: {e}"))
        })
        .map_err(|e| format!("bootstrap thread: {e}"))?
        .join()
        .map_err(|_| "the bootstrap thread panicked".to_string())??;
    check_private(&made.1)?;
    Ok(made)
}

/// Checks that a bootstrap socket and its directory are open to their owner only.
fn check_private(socket: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let socket = std::path::Path::new(socket);
    let dir = socket
        .parent()
        .ok_or("the bootstrap socket has no directory")?;
    for path in [dir, socket] {
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("cannot read the mode of {}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is open to other users (mode {:o})",
                path.display(),
                mode & 0o777
            ));
        }
    }
    Ok(())
}

/// A random 64-bit secret, from the standard library's per-process random hash keys.
fn secret() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}

fn fail(mut process: Child, why: &str) -> String {
    let _ = process.kill();
    let _ = process.wait();
    why.to_string()
}
