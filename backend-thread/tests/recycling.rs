//! A gone actor's cell serves the next actor of its type (`src/pool/registry.rs`): sends and watches
//! that race the renewal of a cell, from other threads, reach the actor they name or none.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{
    Actor, ActorError, ActorId, ActorRef, Addr, Backend, Context, ReplyTo, ShutdownMode, Signal,
};
use backend_thread::{ThreadConfig, ThreadSystem};

const WAIT: Duration = Duration::from_secs(30);

/// Messages (and watch ends) that reached an actor other than the one they named.
static MISDELIVERED: AtomicU64 = AtomicU64::new(0);

/// Checks that every message it gets names it; stops at a message that says so.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Named;

impl Actor for Named {
    /// The actor the message was sent to, and whether to stop.
    type Msg = (ActorId, bool);

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        (meant, stop): (ActorId, bool),
    ) -> Result<(), ActorError> {
        if ctx.myself().id() != meant {
            MISDELIVERED.fetch_add(1, SeqCst);
        }
        if stop {
            ctx.stop();
        }
        Ok(())
    }
}

/// Watches the actors it is told to, and checks that each end it hears of is one it watches,
/// heard once.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Watcher {
    watched: HashSet<ActorId>,
    ended: HashSet<ActorId>,
}

#[derive(serde::Serialize, serde::Deserialize)]
enum WatcherMsg {
    Watch(ActorId),
    /// How many actors it watches, and how many ends it heard of.
    Count(ReplyTo<(usize, usize)>),
}

impl Actor for Watcher {
    type Msg = WatcherMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: WatcherMsg) -> Result<(), ActorError> {
        match msg {
            // Once an actor: a watch of a gone actor is answered anew each time.
            WatcherMsg::Watch(id) => {
                if self.watched.insert(id) {
                    ctx.watch(&Addr::<(ActorId, bool)>::from_id(id));
                }
            }
            WatcherMsg::Count(reply_to) => {
                ctx.reply(reply_to, (self.watched.len(), self.ended.len()));
            }
        }
        Ok(())
    }

    fn signal<C: Context<Self>>(&mut self, _: &mut C, signal: Signal) -> Result<(), ActorError> {
        if let Signal::Terminated { id, .. } = signal
            && (!self.watched.contains(&id) || !self.ended.insert(id))
        {
            MISDELIVERED.fetch_add(1, SeqCst);
        }
        Ok(())
    }
}

#[test]
fn sends_and_watches_racing_a_cells_renewal_reach_only_the_actor_they_name() {
    // Every gone actor's report is kept, so that each can be checked below: by default a cell
    // keeps its last 64, and how many actors a cell serves depends on timing (CI once saw a
    // cell serve more than 64 of the 20,000 here).
    let config = ThreadConfig::default().threads(2).gone_reports(usize::MAX);
    let system = Arc::new(ThreadSystem::with_config(config).unwrap());
    let watcher = system.spawn(Watcher::default()).unwrap();
    // The ids of the actors told to stop, newest last: their cells are being retired and
    // renewed while the other thread sends to them and has them watched.
    let stopped: Arc<Mutex<Vec<ActorId>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let stale = {
        let (system, stopped, done) =
            (Arc::clone(&system), Arc::clone(&stopped), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut sent = 0u64;
            let mut next_watched = 0;
            while !done.load(SeqCst) {
                // The newest actors (maybe still running) get messages; an older one (likely
                // gone, its cell serving a later actor) is watched for the first time.
                let (newest, late): (Vec<ActorId>, Option<ActorId>) = {
                    let stopped = stopped.lock().unwrap();
                    let late = stopped
                        .get(next_watched)
                        .filter(|_| stopped.len() > next_watched + 16);
                    (
                        stopped.iter().rev().take(4).copied().collect(),
                        late.copied(),
                    )
                };
                for id in newest {
                    // Accepted (the actor has not stopped yet) or refused: never another's.
                    let _ = system.send(&Addr::<(ActorId, bool)>::from_id(id), (id, false));
                    sent += 1;
                }
                if let Some(id) = late {
                    system.send(&watcher, WatcherMsg::Watch(id)).unwrap();
                    next_watched += 1;
                }
            }
            sent
        })
    };
    let mut renewed = 0;
    for _ in 0..20_000 {
        let named = system.spawn(Named).unwrap();
        renewed += usize::from(named.id().get() >> 32 > 0);
        system.send(&named, (named.id(), true)).unwrap();
        stopped.lock().unwrap().push(named.id());
    }
    done.store(true, SeqCst);
    let sent = stale.join().unwrap();
    assert!(sent > 0, "the racing thread sent nothing");
    assert!(
        renewed > 0,
        "no cell served a second actor: this tested nothing"
    );

    let (watched, ended) = system.ask(&watcher, WatcherMsg::Count, WAIT).unwrap();
    assert_eq!(MISDELIVERED.load(SeqCst), 0);
    // Every actor watched is gone (or told to stop): each watch was answered once.
    let deadline = std::time::Instant::now() + WAIT;
    let (mut watched, mut ended) = (watched, ended);
    while ended < watched && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        (watched, ended) = system.ask(&watcher, WatcherMsg::Count, WAIT).unwrap();
    }
    assert_eq!(ended, watched, "a watch was never answered");
    let system = Arc::try_unwrap(system).ok().unwrap();
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "the ledger does not balance");
    assert_eq!(MISDELIVERED.load(SeqCst), 0);
    // Every actor once (the watcher and the 20,000), in id order: recycled cells' reports are
    // sorted from their cells' use numbers.
    assert_eq!(report.actors.len(), 20_001);
    assert!(
        report.actors.windows(2).all(|w| w[0].id < w[1].id),
        "reports out of id order, or one twice"
    );
}
