//! No actor process outlives its host by more than a second: not when the host is killed with
//! `kill -9`, not when it panics. The host runs as a child of this test (this binary, running
//! one of the ignored helper tests below).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actor_core::Backend;
use backend_process::ProcessSystem;

backend_process::process_test_support!();

mod common;
use common::Pid;

/// Starts three actors and prints their pids, one line, then `then`.
fn host(then: impl FnOnce()) {
    let system = ProcessSystem::new().unwrap();
    let pids: Vec<String> = (0..3)
        .map(|_| {
            let actor = system.spawn(Pid).unwrap();
            system
                .ask(&actor, |r| r, Duration::from_secs(10))
                .unwrap()
                .to_string()
        })
        .collect();
    println!("pids {}", pids.join(" "));
    then();
    drop(system);
}

#[test]
#[ignore = "a helper run in a child process"]
fn host_that_waits_to_be_killed() {
    host(|| std::thread::sleep(Duration::from_secs(60)));
}

#[test]
#[ignore = "a helper run in a child process"]
fn host_whose_children_do_not_die_with_it() {
    backend_process::fault_injection::children_without_death_signal();
    host(|| std::thread::sleep(Duration::from_secs(60)));
}

#[test]
#[ignore = "a helper run in a child process"]
fn host_that_panics() {
    host(|| panic!("the host panics"));
}

/// Dead: gone, or a zombie waiting for whoever adopted it.
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Runs a helper host and returns it and its actors' pids.
fn start_host(helper: &str) -> (std::process::Child, Vec<u32>) {
    let mut host = Command::new(std::env::current_exe().unwrap())
        .args([
            helper,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(host.stdout.take().unwrap());
    let line = stdout
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("pids "))
        .expect("the host prints its pids");
    let pids = line
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse().unwrap())
        .collect();
    (host, pids)
}

/// Every child of the host: its actors' processes and the spare the launcher keeps ready,
/// once it has started it.
fn every_child(host: &std::process::Child, actors: &[u32]) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let children = loop {
        let children = common::children_of(host.id());
        if children.len() > actors.len() || Instant::now() > deadline {
            break children;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(actors.iter().all(|p| children.contains(p)), "{children:?}");
    assert_eq!(
        children.len(),
        actors.len() + 1,
        "and a spare: {children:?}"
    );
    children
}

fn all_dead_within(pids: &[u32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !pids.iter().all(|p| is_dead(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    pids.iter().all(|p| is_dead(*p))
}

/// Runs `helper` as a host, kills it with SIGKILL once its actors run, and checks that every
/// child it had is dead within a second.
fn kill_host_and_see_its_children_die(helper: &str) {
    let (mut host, pids) = start_host(helper);
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|p| !is_dead(*p)), "the actors are running");
    let children = every_child(&host, &pids);
    host.kill().unwrap(); // SIGKILL
    host.wait().unwrap();
    assert!(
        all_dead_within(&children, Duration::from_secs(1)),
        "a child outlived its host"
    );
}

#[test]
fn actors_die_within_a_second_of_a_host_killed_with_sigkill() {
    kill_host_and_see_its_children_die("host_that_waits_to_be_killed");
}

/// Without `PR_SET_PDEATHSIG`, the closed channel alone: an actor's process looks at it at
/// least every 250 ms while it waits for work.
#[test]
fn actors_whose_host_is_killed_see_their_channel_closed_and_exit() {
    kill_host_and_see_its_children_die("host_whose_children_do_not_die_with_it");
}

#[test]
fn actors_stop_when_the_host_panics() {
    let (mut host, pids) = start_host("host_that_panics");
    let status = host.wait().unwrap();
    assert!(!status.success(), "the host panicked");
    assert!(
        all_dead_within(&pids, Duration::from_secs(1)),
        "an actor outlived its host"
    );
}
