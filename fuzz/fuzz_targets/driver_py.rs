#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| binarycop_fuzz::driver_py(data));
