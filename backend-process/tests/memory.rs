//! What the host holds for an actor that falls behind: each accepted message once (until the
//! actor's process confirms it), not once more in the writer's queue. One test in this file, so
//! that no other test's memory is counted with its own.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actor_core::{Actor, ActorError, Backend, Context, ShutdownMode};
use backend_process::ProcessSystem;

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(60);

/// Waits in its first handler until the file exists.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Stuck;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum StuckMsg {
    WaitFor(PathBuf),
    Bytes(Vec<u8>),
}

impl Actor for Stuck {
    type Msg = StuckMsg;

    fn handle<C: Context<Self>>(&mut self, _ctx: &mut C, msg: StuckMsg) -> Result<(), ActorError> {
        if let StuckMsg::WaitFor(path) = msg {
            let deadline = Instant::now() + WAIT;
            while !path.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }
}

/// This process's resident memory, in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

#[test]
fn a_backlog_is_held_once_by_the_host() {
    let system = ProcessSystem::new().expect("a system");
    let stuck = system.spawn(Stuck).expect("spawn");
    let release = std::env::temp_dir().join(format!("memory-test-{}", std::process::id()));
    let _ = std::fs::remove_file(&release);
    system
        .send(&stuck, StuckMsg::WaitFor(release.clone()))
        .expect("send");
    std::thread::sleep(Duration::from_millis(200));

    // 64 MiB for an actor that reads none of it (its socket takes a few hundred KiB at most).
    let before = resident_kib();
    let (count, size) = (64 * 1024, 1024);
    for _ in 0..count {
        system
            .send(&stuck, StuckMsg::Bytes(vec![7; size]))
            .expect("send");
    }
    // Let the writer write what it has been given.
    std::thread::sleep(Duration::from_millis(500));
    let grown = resident_kib().saturating_sub(before);
    let backlog = (count * size / 1024) as u64;
    std::fs::write(&release, b"").expect("release the actor");

    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let _ = std::fs::remove_file(&release);
    assert!(report.is_balanced(), "{report}");
    assert_eq!(report.total().handled, count as u64 + 1);
    // Held once, plus allocator slack; held twice would be 2x.
    assert!(
        grown < backlog * 3 / 2,
        "the host grew by {grown} KiB for a {backlog} KiB backlog"
    );
}
