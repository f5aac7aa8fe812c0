//! The bootstrap socket a child connects to: whoever connects first must know the start's
//! secret. One test in this file: it plays an impostor on the test binary's next start.

use std::time::Duration;

use actor_core::{Backend, ShutdownMode};
use backend_process::{ProcessSystem, fault_injection};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(20);

mod common;
use common::Pid;

/// Someone who found the socket (only this user can reach it) and connects before the child
/// is refused: that start fails, saying why, its child is killed, and the launcher's next start
/// gives the spawn its process.
#[test]
fn a_connection_without_the_secret_is_refused_and_the_spawn_goes_on() {
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
