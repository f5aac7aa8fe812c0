//! Another local user cannot list, connect to or stall a bootstrap socket, whatever the host's
//! umask: the host here runs under umask 000 (which makes every file it creates open to all),
//! while a second user (`nobody`) watches the temporary directory with inotify and, at each
//! directory created there, tries at once to list it and to connect to its socket, holding any
//! connection it gets. Needs root (to run the watcher as another user): skipped, saying so,
//! otherwise.
//!
//! Its own test binary without the test harness (`harness = false`): the umask and `TMPDIR`
//! are set in `main`, before any thread exists, so that every bootstrap directory of this
//! process lands in a directory of the test's own, where the watcher sees all of them and
//! nothing else.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actor_core::{Backend, ShutdownMode};
use backend_process::{ProcessSystem, fault_injection};

const WAIT: Duration = Duration::from_secs(20);
/// `nobody`'s user and group ids on Debian and most Linux systems.
const NOBODY: u32 = 65534;
const SPAWNS: u32 = 20;

mod common;
use common::Pid;

fn main() {
    // An actor's process (this binary re-executed) becomes its actor here and never returns.
    backend_process::init();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("watch") {
        watch(Path::new(&args[2]));
        return;
    }
    if !rustix::process::geteuid().is_root() {
        println!("bootstrap_other_user: skipped: needs root, to watch as a second user");
        return;
    }
    let place = TestDir::new();
    set_temp_dir_before_any_thread(&place.0);
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0));
    let watcher = Watcher::start(&place.0);
    // Each start waits a moment after making its socket: a socket that was not private from
    // its creation would be reachable all that time, not only for the microseconds between
    // the host's own steps, so the check below does not rest on winning a race.
    fault_injection::pause_after_bootstrap_bind(5);

    let system = ProcessSystem::new().expect("a system");
    for _ in 0..SPAWNS {
        let actor = system.spawn(Pid).expect("spawn");
        let pid = system.ask(&actor, |r| r, WAIT).expect("the actor answers");
        assert_ne!(pid, std::process::id());
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    assert!(report.failures.is_empty(), "{report:#?}");

    let (seen, listed, connected) = watcher.finish();
    // The watcher saw every bootstrap directory (one per process started: the actors' and the
    // spare's), so the checks below were made against each of them.
    assert!(
        seen >= SPAWNS,
        "the watcher saw {seen} bootstrap directories"
    );
    assert_eq!(listed, 0, "the second user listed {listed} of {seen}");
    assert_eq!(
        connected, 0,
        "the second user connected to {connected} of {seen}"
    );
    println!("bootstrap_other_user: ok: {seen} bootstrap directories, none reached");
}

#[allow(unsafe_code)] // one `set_var`, explained below
fn set_temp_dir_before_any_thread(dir: &Path) {
    // SAFETY: no other thread exists yet in this process (no test harness, nothing started),
    // so nothing reads the environment while it changes.
    unsafe { std::env::set_var("TMPDIR", dir) };
}

/// A directory of the test's own, open to all as `/tmp` is (sticky, 1777), removed at the end.
struct TestDir(PathBuf);

impl TestDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("bootstrap-other-user-{}", std::process::id()));
        std::fs::create_dir(&path).expect("the test's directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1777))
            .expect("the test directory's mode");
        Self(path)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The second user's process, watching the test's directory.
struct Watcher {
    process: Child,
    said: BufReader<std::process::ChildStdout>,
}

impl Watcher {
    /// Starts it as `nobody` (a copy of this binary it may run, in the test's directory) and
    /// waits until it watches.
    fn start(dir: &Path) -> Self {
        let copy = dir.join("watcher");
        std::fs::copy(std::env::current_exe().expect("this binary"), &copy).expect("a copy");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("mode");
        let mut process = Command::new(&copy)
            .arg("watch")
            .arg(dir)
            .uid(NOBODY)
            .gid(NOBODY)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the watcher starts");
        let mut said = BufReader::new(process.stdout.take().expect("its stdout"));
        let mut line = String::new();
        said.read_line(&mut line)
            .expect("the watcher says it watches");
        assert_eq!(line.trim(), "watching", "the watcher: {line:?}");
        Self { process, said }
    }

    /// Tells it to stop (its stdin closes) and reads what it saw, listed and connected to.
    fn finish(mut self) -> (u32, u32, u32) {
        drop(self.process.stdin.take());
        let mut line = String::new();
        self.said.read_line(&mut line).expect("the watcher's count");
        let _ = self.process.wait();
        let counts: Vec<u32> = line
            .split_whitespace()
            .map(|n| n.parse().expect("a count"))
            .collect();
        assert_eq!(counts.len(), 3, "the watcher said {line:?}");
        (counts[0], counts[1], counts[2])
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The second user: at each directory created in `dir`, tries to list it and to connect to
/// the socket in it, and holds every connection it gets, until its stdin closes. Then prints
/// how many directories it saw, listed and connected to.
fn watch(dir: &Path) {
    use rustix::fs::inotify;
    let events = inotify::init(inotify::CreateFlags::NONBLOCK).expect("inotify");
    inotify::add_watch(&events, dir, inotify::WatchFlags::CREATE).expect("a watch");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = std::sync::Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        stopper.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    println!("watching");
    let _ = std::io::stdout().flush();
    let (mut seen, mut listed, mut connected) = (0, 0, 0);
    let mut held = Vec::new();
    let mut buffer = [std::mem::MaybeUninit::uninit(); 4096];
    let mut reader = inotify::Reader::new(&events, &mut buffer);
    // Once told to stop, it still takes every event already queued: each directory is seen.
    loop {
        let stopping = stop.load(std::sync::atomic::Ordering::SeqCst);
        match reader.next() {
            Ok(event) => {
                let Some(name) = event.file_name() else {
                    continue;
                };
                let path = dir.join(name.to_string_lossy().as_ref());
                if !event.events().contains(inotify::ReadFlags::ISDIR) {
                    continue;
                }
                seen += 1;
                // Both at once, before the host could narrow anything.
                let socket = path.join("socket");
                for _ in 0..1000 {
                    if let Ok(stream) = std::os::unix::net::UnixStream::connect(&socket) {
                        connected += 1;
                        held.push(stream);
                        break;
                    }
                    if std::fs::metadata(&socket).is_ok() {
                        break;
                    }
                }
                if std::fs::read_dir(&path).is_ok() {
                    listed += 1;
                }
            }
            Err(rustix::io::Errno::AGAIN) if stopping => break,
            Err(rustix::io::Errno::AGAIN) => {
                // Nothing new: look again soon (the stop is seen within a millisecond).
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("inotify: {e}"),
        }
    }
    println!("{seen} {listed} {connected}");
}
