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
