//! Spawn + stop: a parent spawns `count` children, watches each, tells each to stop, and
//! answers when it has seen every `Terminated`. Measures the cost of an actor's whole life.

use actor_core::{Actor, ActorError, Backend, Context, ReplyTo, Signal, SpawnOptions};
use serde::{Deserialize, Serialize};

use super::{TIMEOUT, WorkloadError, check};

/// A child that stops as soon as it gets a message.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ephemeral;

impl Actor for Ephemeral {
    type Msg = ();

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, (): ()) -> Result<(), ActorError> {
        ctx.stop();
        Ok(())
    }
}

/// Spawns children and counts their deaths.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Spawner {
    #[serde(skip)]
    waiting: Option<(u64, ReplyTo<u64>)>,
    terminated: u64,
}

/// Spawn, watch and stop `count` children; reply with the number of `Terminated` seen.
#[derive(Debug, Serialize, Deserialize)]
pub struct SpawnMany {
    /// How many children.
    pub count: u64,
    /// Where the count goes.
    pub reply_to: ReplyTo<u64>,
}

impl Actor for Spawner {
    type Msg = SpawnMany;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: SpawnMany) -> Result<(), ActorError> {
        self.terminated = 0;
        if msg.count == 0 {
            ctx.reply(msg.reply_to, 0);
            return Ok(());
        }
        self.waiting = Some((msg.count, msg.reply_to));
        for _ in 0..msg.count {
            let child = ctx
                .spawn(Ephemeral, SpawnOptions::new())
                .map_err(|e| ActorError::new(e.to_string()))?;
            ctx.watch(&child);
            ctx.send(&child, ())
                .map_err(|e| ActorError::new(e.to_string()))?;
        }
        Ok(())
    }

    fn signal<C: Context<Self>>(&mut self, ctx: &mut C, signal: Signal) -> Result<(), ActorError> {
        if let Signal::Terminated { .. } = signal {
            self.terminated += 1;
            if let Some((count, _)) = &self.waiting
                && self.terminated == *count
                && let Some((_, reply_to)) = self.waiting.take()
            {
                ctx.reply(reply_to, self.terminated);
            }
        }
        Ok(())
    }
}

/// Spawns and stops `count` actors; returns how many terminated.
///
/// # Errors
/// A failed spawn or ask, or a count of terminations that is not `count`.
pub fn run<B: Backend>(system: &B, count: u64) -> Result<u64, WorkloadError> {
    let spawner = system.spawn(Spawner::default())?;
    let terminated = system.ask(&spawner, |reply_to| SpawnMany { count, reply_to }, TIMEOUT)?;
    check(count, terminated)?;
    Ok(terminated)
}
