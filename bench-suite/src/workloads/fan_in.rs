//! Fan-in: `producers` actors each send `per_producer` numbers to one sink, which sums them.
//! With one producer this is Savina's Counting. Measures mailbox throughput under contention.
//! [`run_from_outside`] is the one-way stream from a sender that is not an actor.

use actor_core::{Actor, ActorError, Addr, Backend, Context, ReplyTo};
use serde::{Deserialize, Serialize};

use super::{TIMEOUT, WorkloadError, check};

/// Sums what it receives; answers once it has received the expected count.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sink {
    received: u64,
    sum: u64,
    #[serde(skip)]
    waiting: Option<(u64, ReplyTo<(u64, u64)>)>,
}

/// A message to a [`Sink`].
#[derive(Debug, Serialize, Deserialize)]
pub enum SinkMsg {
    /// One number.
    Item(u64),
    /// Reply with (count, sum) once `count` items have arrived.
    Await {
        /// The number of items expected.
        count: u64,
        /// Where (count, sum) goes.
        reply_to: ReplyTo<(u64, u64)>,
    },
}

impl Sink {
    fn answer_if_done<C: Context<Self>>(&mut self, ctx: &mut C) {
        if let Some((count, _)) = &self.waiting
            && self.received >= *count
            && let Some((_, reply_to)) = self.waiting.take()
        {
            ctx.reply(reply_to, (self.received, self.sum));
        }
    }
}

impl Actor for Sink {
    type Msg = SinkMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: SinkMsg) -> Result<(), ActorError> {
        match msg {
            SinkMsg::Item(n) => {
                self.received += 1;
                self.sum = self.sum.wrapping_add(n);
                if self.waiting.is_some() {
                    self.answer_if_done(ctx);
                }
            }
            SinkMsg::Await { count, reply_to } => {
                self.waiting = Some((count, reply_to));
                self.answer_if_done(ctx);
            }
        }
        Ok(())
    }
}

/// Sends numbers to a sink when told.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Producer;

/// Send the numbers `first..first + count` to `to`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Produce {
    /// The sink.
    pub to: Addr<SinkMsg>,
    /// The first number.
    pub first: u64,
    /// How many.
    pub count: u64,
}

impl Actor for Producer {
    type Msg = Produce;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: Produce) -> Result<(), ActorError> {
        for n in msg.first..msg.first + msg.count {
            ctx.send(&msg.to, SinkMsg::Item(n))
                .map_err(|e| ActorError::new(e.to_string()))?;
        }
        Ok(())
    }
}

/// Runs a fan-in of `producers` × `per_producer` messages; returns the number received.
///
/// # Errors
/// A failed spawn, send or ask, or a count or sum that is not what was sent.
pub fn run<B: Backend>(
    system: &B,
    producers: usize,
    per_producer: u64,
) -> Result<u64, WorkloadError> {
    let sink = system.spawn(Sink::default())?;
    let all = (0..producers)
        .map(|_| system.spawn(Producer))
        .collect::<Result<Vec<_>, _>>()?;
    for (k, producer) in all.iter().enumerate() {
        system.send(
            producer,
            Produce {
                to: sink,
                first: k as u64 * per_producer,
                count: per_producer,
            },
        )?;
    }
    let total = producers as u64 * per_producer;
    let (received, sum) = system.ask(
        &sink,
        |reply_to| SinkMsg::Await {
            count: total,
            reply_to,
        },
        TIMEOUT,
    )?;
    check(
        (total, total.wrapping_mul(total.wrapping_sub(1)) / 2),
        (received, sum),
    )?;
    Ok(received)
}

/// Sends `count` numbers to one sink from outside any actor (the calling thread), then waits
/// for the sink to have them all; returns the number received.
///
/// # Errors
/// A failed spawn, send or ask, or a count or sum that is not what was sent.
pub fn run_from_outside<B: Backend>(system: &B, count: u64) -> Result<u64, WorkloadError> {
    let sink = system.spawn(Sink::default())?;
    for n in 0..count {
        system.send(&sink, SinkMsg::Item(n))?;
    }
    let (received, sum) = system.ask(
        &sink,
        |reply_to| SinkMsg::Await { count, reply_to },
        TIMEOUT,
    )?;
    check(
        (count, count.wrapping_mul(count.wrapping_sub(1)) / 2),
        (received, sum),
    )?;
    Ok(received)
}
