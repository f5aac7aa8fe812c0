//! An actor's process's ends of its direct routes (`direct.rs`; the host's side and the rules
//! are in `routes.rs`): [`Outgoing`], the routes it writes to, by receiver, and [`Incoming`],
//! the ones it reads from.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use actor_core::ActorId;

use crate::os::bell::Bell;
use crate::os::direct::{self, Refused};
use crate::os::wire::{Fence, RouteGrant, SourceGrant, TypeKey};

/// Plain sends through the host to one receiver after which this process asks for a direct
/// route to it: a few messages are not worth a route (two shared memories, and a message each
/// way), a conversation is.
const ASK_AFTER: u32 = 16;

/// For tests (`fault_injection::garble_next_direct_message`): the next message written to a
/// route is replaced by one byte that starts a varint and never ends it (which no message
/// type that begins with a varint, an enum or a length, decodes from).
pub(crate) static GARBLE_NEXT: AtomicBool = AtomicBool::new(false);

struct RouteOut {
    route: u32,
    msg_type: TypeKey,
    producer: direct::Producer,
    /// The receiver's bell, rung after each message.
    bell: Bell,
}

/// The routes this process writes to.
#[derive(Default)]
pub(crate) struct Outgoing {
    routes: HashMap<ActorId, RouteOut>,
    /// Plain sends through the host to each receiver, since the last route to it was given up.
    through_host: HashMap<ActorId, u32>,
    /// Receivers a route was asked for (asked once: the host may refuse, by not answering).
    asked: HashSet<ActorId>,
    /// A message was written to a route since [`take_wrote`](Self::take_wrote) last asked.
    wrote: bool,
}

impl Outgoing {
    /// Writes a plain message to the route to `to`, if there is one and it takes it. Else
    /// `Err` with the fence the message must carry through the host: a route that did not
    /// take it is given up (a closed one needs no fence: its receiver is gone).
    pub fn try_direct(
        &mut self,
        to: ActorId,
        msg_type: TypeKey,
        payload: &[u8],
    ) -> Result<(), Option<Fence>> {
        let Some(out) = self.routes.get_mut(&to) else {
            return Err(None);
        };
        if out.msg_type != msg_type {
            return Err(self.give_up(to));
        }
        // A load first: a swap on every message would be a locked instruction each.
        let garbled = GARBLE_NEXT.load(Relaxed) && GARBLE_NEXT.swap(false, Relaxed);
        let payload = if garbled { &[0xFF][..] } else { payload };
        match out.producer.push(payload) {
            Ok(()) => {
                out.bell.ring();
                self.wrote = true;
                Ok(())
            }
            Err(Refused::Closed) => {
                self.routes.remove(&to);
                Err(None)
            }
            Err(Refused::TooBig | Refused::Full) => Err(self.give_up(to)),
        }
    }

    /// Whether a message was written to a route since the last call.
    pub fn take_wrote(&mut self) -> bool {
        std::mem::take(&mut self.wrote)
    }

    /// Gives up the route to `to`, if there is one, for a message that goes through the host:
    /// the fence it carries.
    pub fn give_up(&mut self, to: ActorId) -> Option<Fence> {
        let out = self.routes.remove(&to)?;
        self.through_host.remove(&to);
        self.asked.remove(&to);
        Some(Fence {
            route: out.route,
            written: out.producer.written(),
        })
    }

    /// A plain send to `to` went through the host: `true` if it is time to ask for a route.
    pub fn count_through_host(&mut self, to: ActorId) -> bool {
        if self.asked.contains(&to) || self.routes.contains_key(&to) {
            return false;
        }
        let count = self.through_host.entry(to).or_insert(0);
        *count += 1;
        if *count < ASK_AFTER {
            return false;
        }
        self.through_host.remove(&to);
        self.asked.insert(to);
        true
    }

    /// Takes a route the host gave. `Err` if its memory is not a route or a bell.
    pub fn add(&mut self, grant: RouteGrant) -> Result<(), String> {
        let producer = direct::Producer::new(grant.memory).ok_or("a route too small")?;
        let bell = Bell::new(grant.bell).ok_or("a bell too small")?;
        self.asked.remove(&grant.to);
        self.routes.insert(
            grant.to,
            RouteOut {
                route: grant.route,
                msg_type: grant.msg_type,
                producer,
                bell,
            },
        );
        Ok(())
    }
}

struct Source {
    route: u32,
    consumer: direct::Consumer,
    /// The delivery through the host to begin before this route's first message.
    gate: u64,
    /// What the sender had written when this process last took deliveries from the host:
    /// handled before them (see [`Incoming::took_from_host`]).
    before_host: u64,
}

/// The routes this process reads from.
#[derive(Default)]
pub(crate) struct Incoming {
    sources: Vec<Source>,
    /// Where the next look for a message starts: the routes and the host take turns.
    turn: usize,
    /// The last delivery through the host whose handler began here.
    pub host_begun: u64,
    /// Whether the routes' turn is next, when both they and the host have a message.
    routes_next: bool,
}

impl Incoming {
    /// Takes a route the host gave. `Err` if its memory is not a route.
    pub fn add(&mut self, grant: SourceGrant) -> Result<(), String> {
        let consumer = direct::Consumer::new(grant.memory).ok_or("a route too small")?;
        self.sources.push(Source {
            route: grant.route,
            consumer,
            gate: grant.gate,
            before_host: 0,
        });
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether it is the routes' turn (then the host's: each call passes the turn on).
    pub fn direct_turn(&mut self) -> bool {
        self.routes_next = !self.routes_next;
        !self.routes_next
    }

    /// The index of route `route`, if this process reads it.
    pub fn index_of(&self, route: u32) -> Option<usize> {
        self.sources.iter().position(|s| s.route == route)
    }

    fn ready(&self, source: &Source) -> bool {
        source.gate <= self.host_begun && source.consumer.has_message()
    }

    /// This process has just taken deliveries from the host: each route's messages written by
    /// now go before them. A message through the host that something written to a route led
    /// to (the route's sender wrote, then answered an ask, and the asker sent this) was accepted
    /// after that write, so the write is seen here: the order a single mailbox would give,
    /// kept for chains through the host. It asks too much at times (messages written after
    /// the delivery was accepted, before it was taken), never too little, and never for ever:
    /// the mark moves only at a take, and takes wait until there is nothing to handle.
    pub fn took_from_host(&mut self) {
        // Routes the host has closed behind their last message (their sender is gone, or
        // fenced them off in a message that never came) are forgotten here.
        self.sources.retain(|s| !s.consumer.is_finished());
        self.turn = 0;
        for source in &mut self.sources {
            source.before_host = source.consumer.written();
        }
    }

    /// A route with a message to handle before the host's next delivery (see
    /// [`took_from_host`](Self::took_from_host)), past its gate.
    pub fn owed_before_host(&self) -> Option<usize> {
        self.sources.iter().position(|s| {
            s.gate <= self.host_begun
                && s.consumer.read() < s.before_host
                && s.consumer.has_message()
        })
    }

    /// Whether a route has a message that may be handled now.
    pub fn has_ready(&self) -> bool {
        self.sources.iter().any(|s| self.ready(s))
    }

    /// The next route with a message that may be handled now, the routes taking turns.
    pub fn next_ready(&mut self) -> Option<usize> {
        let count = self.sources.len();
        let found = (0..count)
            .map(|k| (self.turn + k) % count)
            .find(|&i| self.ready(&self.sources[i]))?;
        self.turn = found + 1;
        Some(found)
    }

    /// Whether route `i` has a message (gate or not: a fence's wait is past any gate).
    pub fn has_message(&self, i: usize) -> bool {
        self.sources
            .get(i)
            .is_some_and(|s| s.consumer.has_message())
    }

    /// How many messages of route `i` are done with.
    pub fn read(&self, i: usize) -> u64 {
        self.sources.get(i).map_or(0, |s| s.consumer.read())
    }

    /// Route `i`'s number.
    pub fn route(&self, i: usize) -> u32 {
        self.sources.get(i).map_or(0, |s| s.route)
    }

    /// Copies route `i`'s next message into `out` and marks it begun. `false` if none waits.
    pub fn begin(&self, i: usize, out: &mut Vec<u8>) -> bool {
        self.sources.get(i).is_some_and(|s| s.consumer.begin(out))
    }

    /// Route `i`'s message begun is done with.
    pub fn finish(&mut self, i: usize) {
        if let Some(source) = self.sources.get_mut(i) {
            source.consumer.finish();
        }
    }

    /// Drops route `route` if its sender fenced it off at `written` and every message before
    /// the fence is done with. `true` if it was dropped (the host is to be told).
    pub fn retire(&mut self, fence: Fence) -> bool {
        match self.index_of(fence.route) {
            Some(i) if self.sources[i].consumer.read() >= fence.written => {
                self.sources.remove(i);
                self.turn = 0;
                true
            }
            _ => false,
        }
    }
}
