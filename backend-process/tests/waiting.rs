//! An actor that must wait for a process, because no spare is ready (a restart storm, a burst
//! of spawns), holds up no other actor: the host goes on routing while the process starts.
//! One test in this file: it makes every process start slowly, for the whole test binary.

use std::time::{Duration, Instant};

use actor_core::{ActorRef, Backend, ShutdownMode};
use backend_process::{ProcessConfig, ProcessSystem, fault_injection};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(20);

mod common;
use common::Pid;

/// Waits until `pid_of` gives a process other than `old`, and returns it.
fn next_process(system: &ProcessSystem, id: actor_core::ActorId, old: u32) -> u32 {
    let deadline = Instant::now() + WAIT;
    loop {
        match system.pid_of(id) {
            Some(pid) if pid != old => return pid,
            _ => {
                assert!(Instant::now() < deadline, "no new process for {id:?}");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[test]
fn an_actor_waiting_for_a_process_holds_up_no_other_actor() {
    let system =
        ProcessSystem::with_config(ProcessConfig::default().spare_processes(1)).expect("a system");
    let victim = system.spawn(Pid).expect("spawn");
    let bystander = system.spawn(Pid).expect("spawn");
    let first = system
        .ask(&victim, |r| r, WAIT)
        .expect("the victim answers");

    // From now on a process takes two seconds longer to start.
    fault_injection::delay_process_starts(2000);
    // The first restart takes the spare if one is ready (else it waits for one); the launcher
    // then starts its replacement, slowly.
    assert!(common::kill9(first), "kill -9");
    let second = next_process(&system, victim.id(), first);
    // The second finds no spare: the victim waits, without a process.
    assert!(common::kill9(second), "kill -9");
    let deadline = Instant::now() + WAIT;
    while system.pid_of(victim.id()) == Some(second) {
        assert!(
            Instant::now() < deadline,
            "the victim's death was never seen"
        );
        std::thread::sleep(Duration::from_millis(1));
    }

    // Meanwhile the bystander is served: it answers while the victim still has no process.
    let bystander_pid = system
        .ask(&bystander, |r| r, WAIT)
        .expect("the bystander answers");
    assert_eq!(system.pid_of(bystander.id()), Some(bystander_pid));
    assert_eq!(
        system.pid_of(victim.id()),
        None,
        "the bystander answered only once the victim had a process again"
    );
    // A message to the waiting victim waits with it, and is handled once it has a process.
    let third = system
        .ask(&victim, |r| r, WAIT)
        .expect("the victim answers again");
    assert_eq!(system.pid_of(victim.id()), Some(third));
    assert!(third != first && third != second);

    // Killed once more, it waits again (the spare being made is two seconds off), and a shutdown
    // that does not drain stops it there: its message is a dead letter, nothing is lost.
    assert!(common::kill9(third), "kill -9");
    let deadline = Instant::now() + WAIT;
    while system.pid_of(victim.id()).is_some() {
        assert!(
            Instant::now() < deadline,
            "the victim's death was never seen"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // A reply address nobody waits on: the message matters, not its answer.
    let unanswered = actor_core::ReplyTo::new(actor_core::Asker::External, u64::MAX);
    system
        .send(&victim, unanswered)
        .expect("a waiting actor takes messages");
    let report = system.shutdown(ShutdownMode::DeadLetter, WAIT);
    fault_injection::delay_process_starts(0);
    assert!(report.is_balanced(), "{report}");
    assert!(report.unresponsive.is_empty(), "{report}");
    let victims_failures = report
        .failures
        .iter()
        .filter(|f| f.actor == victim.id())
        .count();
    assert_eq!(victims_failures, 3, "{:?}", report.failures);
    let account = report.actor(victim.id()).expect("a report");
    assert_eq!(account.restarts, 3);
    assert_eq!(account.exit, actor_core::ExitReason::Shutdown);
    assert_eq!(
        (account.ledger.accepted, account.ledger.dead_letters),
        (3, 1),
        "two asks answered, the last message dead-lettered"
    );
}
