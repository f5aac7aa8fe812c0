//! The bootstrap socket a child connects to: no other user can reach it, and whoever connects
//! first must know the start's secret. (A test here plays an impostor on the test binary's
//! next start: the tests of this file take turns, so that the start is its own.)

use std::time::{Duration, Instant};

use actor_core::{Backend, ShutdownMode};
use backend_process::{ProcessSystem, fault_injection};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(20);

/// Held by each test while it runs.
static TURNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn my_turn() -> std::sync::MutexGuard<'static, ()> {
    TURNS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

mod common;
use common::Pid;

/// Someone who found the socket (only this user can reach it) and connects before the child
/// is refused: that start fails, saying why, its child is killed, and the launcher's next start
/// gives the spawn its process.
#[test]
fn a_connection_without_the_secret_is_refused_and_the_spawn_goes_on() {
    let _turn = my_turn();
    let system = ProcessSystem::new().expect("a system");
    let told = fault_injection::impostor_connects_first();
    let actor = system.spawn(Pid).expect("spawn");
    assert_eq!(
        told.recv_timeout(WAIT).as_deref(),
        Ok("a process without the token connected first")
    );
    let pid = system.ask(&actor, |r| r, WAIT).expect("the actor answers");
    assert_ne!(pid, std::process::id(), "from a process of its own");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    assert!(report.failures.is_empty(), "{report:#?}");
}

/// The bootstrap sockets of this process's children, each with its directory: a child finds
/// its socket in its environment (`ACTOR_PROCESS_SERVER`). Looking only there, the test sees
/// no other program's socket in the shared temporary directory.
fn childrens_bootstrap_sockets() -> Vec<std::path::PathBuf> {
    let mut sockets = Vec::new();
    for child in common::children_of(std::process::id()) {
        let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap_or_default();
        for var in environ.split(|&b| b == 0) {
            if let Some(path) = var.strip_prefix(b"ACTOR_PROCESS_SERVER=") {
                sockets.push(std::path::PathBuf::from(
                    String::from_utf8_lossy(path).into_owned(),
                ));
            }
        }
    }
    sockets
}

#[test]
fn no_other_user_can_reach_a_bootstrap_socket() {
    let _turn = my_turn();
    use std::os::unix::fs::PermissionsExt;
    // Catch the bootstrap socket of a spawn while it exists: watch this process's children for
    // one whose socket is still there while the system spawns actors.
    let system = ProcessSystem::new().unwrap();
    let watcher = std::thread::spawn(|| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            for socket in childrens_bootstrap_sockets() {
                let dir = socket.parent().map(std::fs::metadata);
                if let (Some(Ok(d)), Ok(s)) = (dir, std::fs::metadata(&socket)) {
                    return Some((
                        d.permissions().mode() & 0o777,
                        s.permissions().mode() & 0o777,
                    ));
                }
            }
        }
        None
    });
    for _ in 0..50 {
        system.spawn(Pid).unwrap();
    }
    let seen = watcher.join().unwrap();
    system.shutdown(ShutdownMode::Drain, WAIT);
    let (dir_mode, socket_mode) = seen.expect("a bootstrap socket was seen");
    assert_eq!(dir_mode & 0o077, 0, "directory mode {dir_mode:o}");
    assert_eq!(socket_mode & 0o077, 0, "socket mode {socket_mode:o}");
}

/// A process told to run an actor type that is not where the host says in its executable (as
/// when the executable was replaced since the host started) refuses before any of the actor's
/// code runs, and says why: the actor fails with that reason, and its restart, told right,
/// runs it.
#[test]
fn a_boot_that_names_no_actor_of_this_executable_is_refused_with_the_reason() {
    let _turn = my_turn();
    let plants: [(fn(), &str); 2] = [
        (fault_injection::misname_next_boot, "the host asked for"),
        (
            fault_injection::misplace_next_boot,
            "no actor entry at offset",
        ),
    ];
    for (plant, says) in plants {
        let system = ProcessSystem::new().expect("a system");
        plant();
        let actor = system.spawn(Pid).expect("spawn");
        let pid = system
            .ask(&actor, |r| r, WAIT)
            .expect("its restart answers");
        assert_ne!(pid, std::process::id(), "from a process of its own");
        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        assert!(report.is_balanced(), "{report:#?}");
        assert_eq!(report.failures.len(), 1, "{report:#?}");
        assert!(
            matches!(
                &report.failures[0].failure,
                actor_core::Failure::Transport(why)
                    if why.contains("refused to run it") && why.contains(says)
            ),
            "{:?}",
            report.failures[0].failure
        );
    }
}
