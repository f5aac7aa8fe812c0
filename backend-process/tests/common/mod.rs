//! An actor the process tests share.

use actor_core::{Actor, ActorError, Context, ReplyTo};

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
#[allow(dead_code)] // not every test file that shares this module looks at processes
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
