// On 32-bit ARM, stable Rust does not expose `target_feature = "neon"` to cfg, so the armv7
// NEON kernel is enabled when the build's rustflags ask for NEON (.cargo/config.toml does for
// the Zynq-7000's Cortex-A9).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(binarycop_arm_neon)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if arch == "arm" && flags.split('\x1f').any(|f| f.contains("+neon")) {
        println!("cargo::rustc-cfg=binarycop_arm_neon");
    }
}
