//! One OS process per actor, messages over `ipc-channel`. Not yet implemented: see the project's
//! open issue for this backend.
#![deny(missing_docs)]
