//! Export request bytes are untrusted input: the wire walk that runs before decoding must
//! return a summary or an error, never panic, on any bytes, in both encodings. Seed the
//! corpus with the `.pb` and `.json` files of `../shared/fixtures`.
#![no_main]

use traceledger::ingest::otlp::Encoding;
use traceledger::ingest::wire::{walk, Signal, WalkLimits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = WalkLimits {
        max_items: 50_000,
        max_decoded_bytes: 512 << 20,
    };
    for signal in [Signal::Traces, Signal::Logs] {
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let _ = walk(signal, data, encoding, limits);
        }
    }
});
