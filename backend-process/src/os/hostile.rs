//! What a hostile child can send, as arbitrary bytes, into every decoder the host (or a
//! receiving child) runs on them: each gives a value or an error, never a panic, an
//! allocation beyond the input's size or a read outside it. Properties over random bytes
//! (proptest, on stable; run with the unit tests, a bounded number of cases each), and over
//! random mutations of valid input, which reach deeper into each format than noise does.

use proptest::prelude::*;

use super::child::entry::{Image, resolve};
use super::mapping::Mapping;
use super::packed::Packed;
use super::wire::{self, DeliveryRef, Entry, ToHost};

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..512)
}

/// Valid frames, as a child would send them, to mutate.
fn valid_batch() -> Vec<u8> {
    let mut batch = Vec::new();
    for frame in [
        ToHost::Started,
        ToHost::Stopped,
        ToHost::Refused {
            why: "a reason".into(),
        },
        ToHost::Watch {
            target: actor_core::ActorId::new(7),
        },
    ] {
        batch.extend(postcard::to_allocvec(&frame).expect("a frame"));
    }
    batch
}

/// Flips, sets or cuts bytes of `valid` at the places `edits` say.
fn mutate(mut valid: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, how, value) in edits {
        if valid.is_empty() {
            break;
        }
        let at = at % valid.len();
        match how % 3 {
            0 => valid[at] ^= value,
            1 => valid[at] = value,
            _ => valid.truncate(at),
        }
    }
    valid
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
}

/// Everything the host does with a batch's frames before it acts on them.
fn read_batch(bytes: &[u8]) {
    for frame in wire::frames(bytes).flatten() {
        let _ = frame.payload_len();
    }
    let _ = wire::decode_frame(bytes);
}

/// Everything done with packed records another process wrote (a direct route's message, a
/// journal's frames read back).
fn read_records(bytes: Vec<u8>) {
    let packed = Packed::from_bytes(bytes);
    for record in packed.records() {
        let _ = record.plain_body();
        if let Ok(DeliveryRef::Message { payload, .. }) = record.delivery() {
            let _ = wire::decode::<Vec<String>>(payload.0);
        }
    }
    let _ = packed
        .front()
        .map(|record| record.map(|r| r.delivery().is_ok()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_as_a_batch_give_frames_or_an_error(bytes in bytes()) {
        read_batch(&bytes);
    }

    #[test]
    fn a_mutated_batch_gives_frames_or_an_error(edits in edits()) {
        read_batch(&mutate(valid_batch(), &edits));
    }

    #[test]
    fn random_bytes_as_packed_records_give_records_or_an_error(bytes in bytes()) {
        read_records(bytes);
    }

    #[test]
    fn a_mutated_record_gives_a_record_or_an_error(edits in edits()) {
        let mut packed = Packed::default();
        let message = wire::encode(&vec!["one".to_string(), "two".into()]).expect("encoded");
        packed
            .push(1, &super::packed::tests::message(&message))
            .expect("a record");
        let valid = packed.records().flat_map(|r| r.bytes.to_vec()).collect();
        read_records(mutate(valid, &edits));
    }

    #[test]
    fn random_bytes_as_a_message_give_it_or_an_error(bytes in bytes()) {
        let _ = wire::decode::<Vec<String>>(&bytes);
        let _ = wire::decode::<(u64, Option<Vec<u8>>, String)>(&bytes);
    }

    #[test]
    fn random_bytes_in_a_journal_give_its_remains(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        // Header words and outbox alike: what a child (or a process it forked) left there.
        let memory = super::journal::create();
        let scribbler = Mapping::new(memory.clone(), 0, 0).expect("a mapping");
        prop_assert!(scribbler.write_bytes(0, &bytes));
        let remains = super::journal::read_remains(&memory);
        read_batch(&remains.frames);
    }

    #[test]
    fn any_entry_is_resolved_or_refused(offset in any::<u64>(), name in ".{0,40}") {
        let image = Image::of_this_process();
        let _ = resolve(&Entry { offset, actor_type: name }, &image);
    }
}
