//! Timers: what the host does when one is due, a message sent after a delay or an `ask`'s
//! timeout. The host keeps them in the kernel's timer queue and its router thread fires them
//! (`os/host/timers.rs`), sleeping until the next one is due.

use std::time::Duration;

use actor_core::{ActorId, Asker};

use crate::os::wire::{Payload, TypeKey};

/// Something to do at a given time.
pub(crate) enum Timer {
    Deliver {
        to: ActorId,
        msg_type: TypeKey,
        payload: Payload,
    },
    AskTimeout {
        asker: Asker,
        request: u64,
        after: Duration,
    },
}
