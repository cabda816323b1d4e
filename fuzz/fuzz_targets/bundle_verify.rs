//! Audit bundles are untrusted input: `verify_bundle` must return an error, never panic,
//! on any bytes. Seed the corpus with `tests/bundle-vectors/example-bundle.json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = traceledger::bundle::verify::verify_bundle(data, None);
});
