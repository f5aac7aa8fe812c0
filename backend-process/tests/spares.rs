//! The processes a system owns: a spare is started ahead of need once the first actor is
//! spawned, it becomes the next actor (or the restarted one), and nothing is left behind by a
//! shutdown or a drop, spares included. One test in this file, so that no other test's
//! processes are counted with its own.

use std::time::{Duration, Instant};

use actor_core::{Backend, ShutdownMode};
use backend_process::{ProcessConfig, ProcessSystem};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(10);

mod common;
use common::Pid;

/// The live (or unreaped) child processes of this process.
fn children() -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // The parent pid is the second field after the command name, which is in parentheses
            // and may itself hold spaces.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(me)
            })
        })
        .collect()
}

fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_spare_is_started_on_demand_used_and_never_left_behind() {
    // No spawn, no process.
    let system = ProcessSystem::new().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        children(),
        Vec::<u32>::new(),
        "nothing started before a spawn"
    );

    // The first spawn starts its own process, then a spare is made ready beside it.
    let first = system.spawn(Pid).unwrap();
    let first_pid = system.ask(&first, |r| r, WAIT).unwrap();
    wait_for("the spare", || children().len() == 2);
    let spare = *children().iter().find(|&&p| p != first_pid).unwrap();

    // The next spawn becomes that spare.
    let second = system.spawn(Pid).unwrap();
    assert_eq!(system.ask(&second, |r| r, WAIT), Ok(spare));
    wait_for("a new spare", || children().len() == 3);

    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    // Balanced, and no actor died of its launcher's thread ending first.
    assert!(
        report.is_balanced() && report.failures.is_empty(),
        "{report:#?}"
    );
    wait_for("every child gone after shutdown", || children().is_empty());

    // Dropping a system without shutting it down leaves nothing either.
    let system = ProcessSystem::with_config(ProcessConfig::default().spare_processes(2)).unwrap();
    let actor = system.spawn(Pid).unwrap();
    assert!(system.ask(&actor, |r| r, WAIT).is_ok());
    wait_for("two spares", || children().len() == 3);
    drop(system);
    wait_for("every child gone after drop", || children().is_empty());

    // Without spares, only the actors' own processes.
    let config = ProcessConfig::default().spare_processes(0);
    let system = ProcessSystem::with_config(config).unwrap();
    let actor = system.spawn(Pid).unwrap();
    assert!(system.ask(&actor, |r| r, WAIT).is_ok());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(children().len(), 1);
    drop(system);
    wait_for("every child gone", || children().is_empty());
}
