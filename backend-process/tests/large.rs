//! A large message on its way to a process that is killed: it travels in shared memory, so the
//! write never waits on the dead process, nothing is lost, and no thread is left behind. One
//! test in this file, so that no other test's threads are counted with its own.

use std::time::Duration;

use actor_core::{Actor, ActorError, ActorRef, Backend, Context, ReplyTo, ShutdownMode};
use backend_process::ProcessSystem;

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Holder {
    bytes: usize,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum HolderMsg {
    /// Blocks until the process is killed.
    Hold,
    Bytes(Vec<u8>),
    /// Replies with this process's id and the bytes received so far.
    Status(ReplyTo<(u32, usize)>),
}

impl Actor for Holder {
    type Msg = HolderMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: HolderMsg) -> Result<(), ActorError> {
        match msg {
            HolderMsg::Hold => loop {
                std::thread::sleep(Duration::from_secs(1));
            },
            HolderMsg::Bytes(bytes) => self.bytes += bytes.len(),
            HolderMsg::Status(reply_to) => ctx.reply(reply_to, (std::process::id(), self.bytes)),
        }
        Ok(())
    }
}

/// The threads of this process that the system started (all named `actors-process-…`; the
/// kernel keeps the first 15 bytes of a name).
fn system_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("actors-process"))
        })
        .count()
}

#[test]
fn a_large_message_to_a_killed_process_is_redelivered_and_leaves_no_thread() {
    const SIZE: usize = 5 << 20;
    let system = ProcessSystem::new().unwrap();
    let holder = system.spawn(Holder::default()).unwrap();
    let (pid, _) = system.ask(&holder, HolderMsg::Status, WAIT).unwrap();
    system.send(&holder, HolderMsg::Hold).unwrap();
    // Far more than a socket holds, to a process that reads nothing: written in fragments, the
    // host's writer would wait for the reader until the end of time.
    system
        .send(&holder, HolderMsg::Bytes(vec![7; SIZE]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100)); // let the writer start on it
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(killed);
    // The restarted process gets the message that was queued behind the one in hand.
    let (new_pid, bytes) = system.ask(&holder, HolderMsg::Status, WAIT).unwrap();
    assert_ne!(new_pid, pid);
    assert_eq!(bytes, SIZE);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let ledger = report.actor(holder.id()).unwrap().ledger;
    assert_eq!(
        (ledger.handled, ledger.dead_letters),
        (3, 1),
        "only the held one lost"
    );
    assert_eq!(
        system_threads(),
        0,
        "every thread the system started was joined"
    );
}
