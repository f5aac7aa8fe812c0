//! The bare ipc-channel baselines: two processes (this binary and a re-executed copy of it)
//! talking over `ipc-channel` with no actor runtime, the physical limit of the process
//! backend's transport.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipc_channel::ipc::{self, IpcOneShotServer, IpcReceiver, IpcSender};
use serde::{Deserialize, Serialize};

use crate::workloads::{WorkloadError, check};

/// What the child sends the parent.
#[derive(Serialize, Deserialize)]
enum Wire {
    /// The child's first message: where the parent sends to it.
    Hello(IpcSender<Vec<u64>>),
    /// An echo, or the count and sum of what it received.
    Data(Vec<u64>),
}

/// How the child answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PeerMode {
    /// Sends every message straight back.
    Echo,
    /// Counts the numbers it receives; after `expected` of them, sends back (count, sum).
    Count,
}

/// The child's side: connects to `server`, then echoes or counts until the parent hangs up.
///
/// # Errors
/// A channel that broke, as text.
pub fn run_peer(server: &str, mode: PeerMode, expected: u64) -> Result<(), String> {
    let to_parent = IpcSender::<Wire>::connect(server.to_string()).map_err(|e| e.to_string())?;
    let (to_me, inbox) = ipc::channel::<Vec<u64>>().map_err(|e| e.to_string())?;
    to_parent
        .send(Wire::Hello(to_me))
        .map_err(|e| e.to_string())?;
    let (mut count, mut sum) = (0u64, 0u64);
    while let Ok(batch) = inbox.recv() {
        match mode {
            PeerMode::Echo => to_parent
                .send(Wire::Data(batch))
                .map_err(|e| e.to_string())?,
            PeerMode::Count => {
                count += batch.len() as u64;
                sum = batch.iter().fold(sum, |s, n| s.wrapping_add(*n));
                if count >= expected {
                    to_parent
                        .send(Wire::Data(vec![count, sum]))
                        .map_err(|e| e.to_string())?;
                    count = 0;
                    sum = 0;
                }
            }
        }
    }
    Ok(())
}

/// If this process was started as the other end of a baseline (`<exe> ipc-peer <server> <mode>
/// <expected>`), plays it and exits; otherwise returns at once. The bench-suite binary parses
/// these arguments with its CLI; other binaries that run the baselines (criterion benches) call
/// this first thing in `main`.
pub fn serve_if_peer() {
    let args: Vec<String> = std::env::args().skip(1).take(4).collect();
    let [command, server, mode, expected] = args.as_slice() else {
        return;
    };
    if command != "ipc-peer" {
        return;
    }
    let mode = if mode == "echo" {
        PeerMode::Echo
    } else {
        PeerMode::Count
    };
    let code = match run_peer(server, mode, expected.parse().unwrap_or(0)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: ipc peer: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// A connected child process, killed and reaped when dropped.
struct Peer {
    child: Child,
    to_peer: IpcSender<Vec<u64>>,
    from_peer: IpcReceiver<Wire>,
}

impl Peer {
    fn start(mode: PeerMode, expected: u64) -> Result<Self, WorkloadError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            WorkloadError::Baseline(format!("ipc peer: {what}: {e}"))
        };
        let (server, name) = IpcOneShotServer::<Wire>::new().map_err(|e| fail("server", &e))?;
        let exe = std::env::current_exe().map_err(|e| fail("own executable", &e))?;
        let mode_name = match mode {
            PeerMode::Echo => "echo",
            PeerMode::Count => "count",
        };
        let mut child = Command::new(exe)
            .args(["ipc-peer", &name, mode_name, &expected.to_string()])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| fail("spawn", &e))?;
        // `accept` has no timeout and never returns if the child dies first: wait for it on a
        // thread, and give up (killing the child) after a deadline.
        let (accepted, accepted_rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || drop(accepted.send(server.accept())));
        match accepted_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok((from_peer, Wire::Hello(to_peer)))) => Ok(Self {
                child,
                to_peer,
                from_peer,
            }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                Err(WorkloadError::Baseline(match other {
                    Ok(Err(e)) => format!("ipc peer did not connect: {e}"),
                    Ok(Ok(_)) => "ipc peer sent something else first".into(),
                    Err(_) => "ipc peer did not connect within 10 s".into(),
                }))
            }
        }
    }

    fn recv(&self) -> Result<Vec<u64>, WorkloadError> {
        match self.from_peer.recv() {
            Ok(Wire::Data(data)) => Ok(data),
            Ok(Wire::Hello(_)) => Err(WorkloadError::Baseline("ipc peer said hello twice".into())),
            Err(e) => Err(WorkloadError::Baseline(format!("ipc peer: {e:?}"))),
        }
    }

    fn send(&self, data: Vec<u64>) -> Result<(), WorkloadError> {
        self.to_peer
            .send(data)
            .map_err(|e| WorkloadError::Baseline(format!("ipc peer: {e}")))
    }
}

impl Peer {
    /// Closes the channel, which ends the peer, and reaps it.
    fn stop(&mut self) -> Result<(), WorkloadError> {
        let (closed, _) = ipc::channel().map_err(|e| WorkloadError::Baseline(e.to_string()))?;
        self.to_peer = closed;
        match self.child.wait() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(WorkloadError::Baseline(format!(
                "ipc peer exited with {status}"
            ))),
            Err(e) => Err(WorkloadError::Baseline(format!("ipc peer: {e}"))),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rounds` round trips of one `u64` between two processes.
///
/// # Errors
/// A peer that did not start or broke its channel, or a wrong echo.
pub fn round_trip(rounds: u64) -> Result<Duration, WorkloadError> {
    let peer = Peer::start(PeerMode::Echo, 0)?;
    let start = Instant::now();
    for n in 0..rounds {
        peer.send(vec![n])?;
        check(vec![n], peer.recv()?)?;
    }
    Ok(start.elapsed())
}

/// `count` numbers sent one way to another process in batches of `batch` per IPC message,
/// until the peer confirms it has them all (count and sum checked).
///
/// # Errors
/// A peer that did not start or broke its channel, or a wrong count or sum.
pub fn one_way(count: u64, batch: usize) -> Result<Duration, WorkloadError> {
    let peer = Peer::start(PeerMode::Count, count)?;
    let numbers: Vec<u64> = (0..count).collect();
    let start = Instant::now();
    for chunk in numbers.chunks(batch.max(1)) {
        peer.send(chunk.to_vec())?;
    }
    let got = peer.recv()?;
    let elapsed = start.elapsed();
    check(
        vec![count, count.wrapping_mul(count.wrapping_sub(1)) / 2],
        got,
    )?;
    Ok(elapsed)
}

/// `count` processes started one after another, each re-executing this binary, connecting,
/// echoing one message and exiting when its channel closes, then reaped: the bare cost of a
/// process's life, beside which the process backend's spawn-stop is measured.
///
/// # Errors
/// A peer that did not start, echo or exit.
pub fn spawn_and_stop(count: u64) -> Result<Duration, WorkloadError> {
    let start = Instant::now();
    for n in 0..count {
        let mut peer = Peer::start(PeerMode::Echo, 0)?;
        peer.send(vec![n])?;
        check(vec![n], peer.recv()?)?;
        peer.stop()?;
    }
    Ok(start.elapsed())
}
