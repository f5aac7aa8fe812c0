//! Death watch across processes, through the watcher's own death: a `Terminated` sent to a
//! watcher whose process is killed before it handled the signal reaches its next process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorError, ActorId, ActorRef, Addr, Backend, Context, ReplyTo, ShutdownMode, Signal,
};
use backend_process::ProcessSystem;
use serde::{Deserialize, Serialize};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(10);

/// Stops when told.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Target;

#[derive(Debug, Serialize, Deserialize)]
enum TargetMsg {
    Stop,
}

impl Actor for Target {
    type Msg = TargetMsg;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        TargetMsg::Stop: TargetMsg,
    ) -> Result<(), ActorError> {
        ctx.stop();
        Ok(())
    }
}

/// Watches, and remembers whose `Terminated` it has seen (since its latest start).
#[derive(Clone, Default, Serialize, Deserialize)]
struct Watcher {
    seen: Vec<ActorId>,
}

#[derive(Debug, Serialize, Deserialize)]
enum WatcherMsg {
    Watch(Addr<TargetMsg>),
    /// Creates the file, then sleeps: a handler that is still running when the test wants it.
    Sleep {
        millis: u64,
        started: PathBuf,
    },
    Seen(ReplyTo<Vec<ActorId>>),
    Pid(ReplyTo<u32>),
}

impl Actor for Watcher {
    type Msg = WatcherMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: WatcherMsg) -> Result<(), ActorError> {
        match msg {
            WatcherMsg::Watch(target) => ctx.watch(&target),
            WatcherMsg::Sleep { millis, started } => {
                std::fs::write(started, b"").map_err(|e| ActorError::new(e.to_string()))?;
                std::thread::sleep(Duration::from_millis(millis));
            }
            WatcherMsg::Seen(reply_to) => ctx.reply(reply_to, self.seen.clone()),
            WatcherMsg::Pid(reply_to) => ctx.reply(reply_to, std::process::id()),
        }
        Ok(())
    }

    fn signal<C: Context<Self>>(&mut self, _ctx: &mut C, signal: Signal) -> Result<(), ActorError> {
        if let Signal::Terminated { id, .. } = signal {
            self.seen.push(id);
        }
        Ok(())
    }
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_terminated_the_watcher_never_handled_reaches_its_next_process() {
    let system = ProcessSystem::new().expect("a system");
    let target = system.spawn(Target).expect("spawn");
    let watcher = system.spawn(Watcher::default()).expect("spawn");
    system
        .send(&watcher, WatcherMsg::Watch(target))
        .expect("send");
    // Answered after the watch: the host has it.
    assert_eq!(system.ask(&watcher, WatcherMsg::Seen, WAIT), Ok(vec![]));
    let pid = system.ask(&watcher, WatcherMsg::Pid, WAIT).expect("a pid");

    // The watcher is busy in a handler, so it cannot handle the signal yet.
    let started = std::env::temp_dir().join(format!("watch-test-{}", std::process::id()));
    let _ = std::fs::remove_file(&started);
    let sleep = WatcherMsg::Sleep {
        millis: 30_000,
        started: started.clone(),
    };
    system.send(&watcher, sleep).expect("send");
    wait_until("the watcher never started to sleep", || started.exists());
    let _ = std::fs::remove_file(&started);

    // The target stops; its `Terminated` goes to the sleeping watcher, which is then killed.
    system.send(&target, TargetMsg::Stop).expect("send");
    wait_until("the target never stopped", || {
        system.send(&target, TargetMsg::Stop).is_err()
    });
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).expect("a pid")).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill -9");

    // Its next process gets the signal: a fresh state that has seen the target's end.
    wait_until("the restarted watcher never saw the target's end", || {
        system.ask(&watcher, WatcherMsg::Seen, WAIT) == Ok(vec![target.id()])
    });

    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report}");
    assert_eq!(report.actor(watcher.id()).expect("a report").restarts, 1);
}
