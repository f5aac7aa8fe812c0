//! Savina's ThreadRing: `members` actors in a ring pass a token `hops` times. Each hop is one
//! message to the next actor, so nothing runs in parallel: it measures hand-off latency.

use actor_core::{Actor, ActorError, Addr, Backend, Context, ReplyTo};
use serde::{Deserialize, Serialize};

use super::{TIMEOUT, WorkloadError, check};

/// One member of the ring.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RingMember {
    next: Option<Addr<RingMsg>>,
}

/// A message to a [`RingMember`].
#[derive(Debug, Serialize, Deserialize)]
pub enum RingMsg {
    /// Set the next member; reply when done.
    Link(Addr<RingMsg>, ReplyTo<()>),
    /// The token, with the hops still to make and who to tell at the end.
    Token {
        /// Hops left.
        hops_left: u64,
        /// Told with the total hops when none are left.
        done: ReplyTo<u64>,
        /// The hops asked for.
        total: u64,
    },
}

impl Actor for RingMember {
    type Msg = RingMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: RingMsg) -> Result<(), ActorError> {
        match msg {
            RingMsg::Link(next, reply_to) => {
                self.next = Some(next);
                ctx.reply(reply_to, ());
            }
            RingMsg::Token {
                hops_left: 0,
                done,
                total,
            } => ctx.reply(done, total),
            RingMsg::Token {
                hops_left,
                done,
                total,
            } => {
                let next = self
                    .next
                    .ok_or_else(|| ActorError::new("ring member without a next"))?;
                ctx.send(
                    &next,
                    RingMsg::Token {
                        hops_left: hops_left - 1,
                        done,
                        total,
                    },
                )
                .map_err(|e| ActorError::new(e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// Builds a ring of `members` (at least 1) and passes the token `hops` times.
///
/// # Errors
/// A failed spawn or ask, or a wrong hop count.
pub fn run<B: Backend>(system: &B, members: usize, hops: u64) -> Result<u64, WorkloadError> {
    let ring = (0..members.max(1))
        .map(|_| system.spawn(RingMember::default()))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, member) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()];
        system.ask(member, |r| RingMsg::Link(next, r), TIMEOUT)?;
    }
    let made = system.ask(
        &ring[0],
        |done| RingMsg::Token {
            hops_left: hops,
            done,
            total: hops,
        },
        TIMEOUT,
    )?;
    check(hops, made)?;
    Ok(made)
}
