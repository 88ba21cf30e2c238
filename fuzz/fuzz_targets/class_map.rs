#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| binarycop_fuzz::class_map(data));
