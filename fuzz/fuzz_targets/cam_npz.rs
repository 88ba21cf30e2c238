#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| binarycop_fuzz::cam_npz(data));
