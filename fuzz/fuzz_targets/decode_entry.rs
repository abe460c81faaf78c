//! Raw bytes into the strict entry decoder: it must never panic, and whatever it accepts must be
//! the canonical encoding of what it returns.
#![no_main]

use crashsafe::format::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(entry) => {
            let again = encode(&entry).expect("a decoded entry re-encodes");
            assert_eq!(again, data, "decode accepted a non-canonical encoding");
        }
        Err(e) => {
            // Exercise the error's classification and its message too.
            let _ = e.is_torn();
            let _ = e.to_string();
        }
    }
});
