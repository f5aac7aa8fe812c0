//! The router thread: it reads every child's channel and the control channel, hands what
//! arrives to the host (`mod.rs`), fires timers and runs spawn requests. Children are started
//! from this thread: `PR_SET_PDEATHSIG` fires when the *thread* that forked a child exits, so it
//! must be one that lives as long as the system.

use std::time::Duration;

use crossbeam_channel::Receiver;
use ipc_channel::TrySelectError;
use ipc_channel::ipc::{IpcReceiverSet, IpcSelectionResult};

use crate::os::host::boot::SpawnReply;
use crate::os::host::{Command, Host, lock};
use crate::os::wire::Uplink;

/// The router thread: reads every child's channel and the control channel, fires timers, and
/// runs spawn requests.
pub(crate) fn route(
    host: &Host,
    mut set: IpcReceiverSet,
    control: u64,
    commands: &Receiver<Command>,
) {
    loop {
        let wait = lock(host)
            .until_next_timer()
            .min(Duration::from_millis(100));
        let results = match set.try_select_timeout(wait) {
            Ok(results) => results,
            Err(TrySelectError::Empty) => Vec::new(),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(1));
                Vec::new()
            }
        };
        for result in results {
            match result {
                IpcSelectionResult::MessageReceived(channel, _) if channel == control => {}
                IpcSelectionResult::MessageReceived(channel, message) => {
                    let mut state = lock(host);
                    // ipc-channel indexes a frame's channels without a bounds check: a forged
                    // frame must fail its sender, not panic the router.
                    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        message.to::<Uplink>().map_err(|e| e.to_string())
                    }))
                    .unwrap_or_else(|_| Err("a forged channel handle".to_string()));
                    let Some(id) = state.actors.actor_of(channel) else {
                        continue;
                    };
                    match decoded {
                        Ok(Uplink::Hello { .. }) => {}
                        Ok(Uplink::Batch {
                            batch,
                            finished,
                            signals,
                            frames,
                        }) => {
                            if let Some(slot) = state.slot_mut(id) {
                                slot.took_signals(signals);
                            }
                            state.on_batch(&mut set, id, batch, finished, &frames);
                        }
                        Ok(Uplink::Large(frame)) => {
                            let frame = crate::os::wire::decode_frame(&frame);
                            state.on_frame(&mut set, id, frame);
                        }
                        // A frame that does not decode fails the one actor that sent it.
                        Err(e) => state.on_bad_frame(id, &format!("undecodable: {e}")),
                    }
                }
                IpcSelectionResult::ChannelClosed(channel) if channel == control => return,
                IpcSelectionResult::ChannelClosed(channel) => {
                    lock(host).on_closed(&mut set, channel)
                }
            }
        }
        {
            let mut state = lock(host);
            state.fire_timers();
            state.attach_awaiting(&mut set);
        }
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Spawn(request) => {
                    lock(host).spawn(
                        &mut set,
                        request.entry,
                        request.actor,
                        request.msg_type,
                        &request.options,
                        SpawnReply::External(request.reply),
                    );
                }
                Command::Exit => return,
            }
        }
    }
}
