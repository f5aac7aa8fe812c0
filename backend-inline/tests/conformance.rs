//! The whole conformance suite, on the inline backend.

use backend_inline::InlineSystem;

actor_core::conformance_tests!(|seed| InlineSystem::with_seed(seed));
