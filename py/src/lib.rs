//! binarycop as a Python package: [`api`] is what each Python call does, in Rust (built and
//! tested with the workspace); `python` wraps it with PyO3 and numpy, only when maturin builds
//! the wheel (`--features python`, pyproject.toml), so the workspace needs no Python.

pub mod api;
#[cfg(feature = "python")]
mod python;
