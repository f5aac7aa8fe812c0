//! Ping-pong: one ball between two actors, `rounds` round trips. Measures the latency of a
//! round trip, with nothing else to do.

use actor_core::{Actor, ActorError, Addr, Backend, Context, ReplyTo};
use serde::{Deserialize, Serialize};

use super::{TIMEOUT, WorkloadError, check};

/// A player: the server counts the rounds and reports; the other one bounces the ball back.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Player {
    #[serde(skip)]
    serving: Option<(u64, u64, ReplyTo<u64>)>,
}

/// A message to a [`Player`].
#[derive(Debug, Serialize, Deserialize)]
pub enum PlayerMsg {
    /// Start a match of `rounds` round trips against `peer`; reply with the rounds played.
    Serve {
        /// Round trips to play.
        rounds: u64,
        /// The other player.
        peer: Addr<PlayerMsg>,
        /// Where the result goes.
        done: ReplyTo<u64>,
    },
    /// The ball, and who to return it to.
    Ball(Addr<PlayerMsg>),
}

impl Actor for Player {
    type Msg = PlayerMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: PlayerMsg) -> Result<(), ActorError> {
        let me = ctx.myself();
        match msg {
            PlayerMsg::Serve { rounds, peer, done } => {
                if rounds == 0 {
                    ctx.reply(done, 0);
                    return Ok(());
                }
                self.serving = Some((rounds, 0, done));
                ctx.send(&peer, PlayerMsg::Ball(me))
                    .map_err(|e| ActorError::new(e.to_string()))
            }
            PlayerMsg::Ball(from) => {
                if let Some((rounds, played, _)) = &mut self.serving {
                    *played += 1;
                    if *played == *rounds {
                        if let Some((_, played, done)) = self.serving.take() {
                            ctx.reply(done, played);
                        }
                        return Ok(());
                    }
                }
                ctx.send(&from, PlayerMsg::Ball(me))
                    .map_err(|e| ActorError::new(e.to_string()))
            }
        }
    }
}

/// Spawns two players and plays `rounds` round trips.
///
/// # Errors
/// A failed spawn or ask, or a wrong number of rounds played.
pub fn run<B: Backend>(system: &B, rounds: u64) -> Result<u64, WorkloadError> {
    let (server, peer) = players(system)?;
    play(system, &server, &peer, rounds)
}

/// Two players, for benches that play many matches on the same pair.
///
/// # Errors
/// A failed spawn.
pub fn players<B: Backend>(
    system: &B,
) -> Result<(Addr<PlayerMsg>, Addr<PlayerMsg>), WorkloadError> {
    Ok((
        system.spawn(Player::default())?,
        system.spawn(Player::default())?,
    ))
}

/// Plays one match of `rounds` round trips between two players.
///
/// # Errors
/// A failed ask, or a wrong number of rounds played.
pub fn play<B: Backend>(
    system: &B,
    server: &Addr<PlayerMsg>,
    peer: &Addr<PlayerMsg>,
    rounds: u64,
) -> Result<u64, WorkloadError> {
    let played = system.ask(
        server,
        |done| PlayerMsg::Serve {
            rounds,
            peer: *peer,
            done,
        },
        TIMEOUT,
    )?;
    check(rounds, played)?;
    Ok(played)
}
