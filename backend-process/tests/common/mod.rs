//! Actors and helpers the process tests share.
// Not every test file that shares this module uses all of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use actor_core::{Actor, ActorError, Backend, Context, ReplyTo};
use backend_process::ProcessSystem;

/// Answers with the id of the process it runs in.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Pid;

impl Actor for Pid {
    type Msg = ReplyTo<u32>;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        reply_to: ReplyTo<u32>,
    ) -> Result<(), ActorError> {
        ctx.reply(reply_to, std::process::id());
        Ok(())
    }
}

/// The processes whose parent is `parent` (alive, or zombies not yet reaped), from `/proc`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let parent = parent.to_string();
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: the name may hold spaces, so split after its `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid == Some(parent.as_str()) {
            children.push(pid);
        }
    }
    children
}

/// An actor that can be told to die in the ways a process can.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Fragile {
    pub handled: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum FragileMsg {
    Work,
    Sleep(u64),
    /// Creates the file at the path, then sleeps: the test sees the message is in hand.
    MarkThenSleep(std::path::PathBuf, u64),
    Abort,
    Exit(i32),
    /// Replies with how many messages this instance has handled.
    Count(ReplyTo<u64>),
    /// Replies with this process's id.
    Pid(ReplyTo<u32>),
}

impl Actor for Fragile {
    type Msg = FragileMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: FragileMsg) -> Result<(), ActorError> {
        self.handled += 1;
        match msg {
            FragileMsg::Work => {}
            FragileMsg::Sleep(millis) => std::thread::sleep(Duration::from_millis(millis)),
            FragileMsg::MarkThenSleep(marker, millis) => {
                std::fs::write(marker, b"in hand").map_err(|e| ActorError::new(e.to_string()))?;
                std::thread::sleep(Duration::from_millis(millis));
            }
            FragileMsg::Abort => std::process::abort(),
            FragileMsg::Exit(code) => std::process::exit(code),
            FragileMsg::Count(reply_to) => ctx.reply(reply_to, self.handled),
            FragileMsg::Pid(reply_to) => ctx.reply(reply_to, std::process::id()),
        }
        Ok(())
    }
}

/// The id of the process a [`Fragile`] runs in.
pub fn pid_of(system: &ProcessSystem, actor: &actor_core::Addr<FragileMsg>) -> u32 {
    system
        .ask(actor, FragileMsg::Pid, Duration::from_secs(10))
        .expect("the actor answers")
}

/// True while a process with this id exists (alive, or a zombie not yet reaped).
pub fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether the process is gone (and reaped) within `limit`.
pub fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while exists(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    !exists(pid)
}

/// Waits until the handler has written `marker` (so its message is in hand), then removes it.
///
/// # Panics
/// If the marker does not appear within `limit`.
pub fn wait_for_marker(marker: &std::path::Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the handler never wrote {marker:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    std::fs::remove_file(marker).unwrap();
}

/// Sends SIGKILL; false if the process was already gone.
pub fn kill9(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).is_ok()
}
