//! The threads actors run on: a `rayon` pool shared by pool actors (M:N), and one thread per
//! dedicated actor. Every thread is started here and its handle kept, so that shutdown can
//! join them all.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use actor_core::Actor;
use crossbeam_channel::Receiver;

use crate::cell::{ActorCell, Entry, lock};
use crate::system::Shared;

/// Handles of every thread a system started.
pub(crate) type Threads = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// A pool of `threads` workers whose handles go into `handles`.
pub(crate) fn build(
    threads: usize,
    system: u64,
    handles: &Threads,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let handles = Arc::clone(handles);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("actors-{system}-pool-{i}"))
        .spawn_handler(move |thread| {
            let mut builder = std::thread::Builder::new();
            if let Some(name) = thread.name() {
                builder = builder.name(name.to_string());
            }
            let handle = builder.spawn(|| thread.run())?;
            lock(&handles).push(handle);
            Ok(())
        })
        .build()
}

/// Starts the thread of a dedicated actor: it runs the actor whenever woken, until the actor
/// is gone.
pub(crate) fn spawn_dedicated<A: Actor>(
    shared: &Arc<Shared>,
    cell: Arc<ActorCell<A>>,
    wake: Receiver<()>,
) -> std::io::Result<()> {
    let shared_for_thread = Arc::clone(shared);
    let handle = std::thread::Builder::new()
        .name(format!("actors-{}-{}", shared.system, cell.id.get()))
        .spawn(move || {
            while wake.recv().is_ok() {
                cell.run(&shared_for_thread);
                if cell.is_gone() {
                    break;
                }
            }
        })?;
    lock(&shared.threads).push(handle);
    Ok(())
}
