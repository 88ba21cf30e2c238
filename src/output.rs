//! Output folders written all or nothing (single files: [`crate::error::write_atomic`]).
//!
//! A command that writes a folder (`synth`, `export-hw`, `compare`, `demo`, `cam`) fills a hidden
//! sibling, `.NAME.TAG-tmpPID`, and renames it to NAME at the end. What "all or nothing" means:
//! - while the command runs, NAME holds the previous output (or nothing); at no time does it
//!   hold part of the new one;
//! - a failure removes the sibling; a killed process (SIGKILL, out of memory) leaves it, hidden,
//!   beside NAME, and NAME untouched;
//! - replacing an earlier output renames it to `.NAME.TAG-oldPID`, renames the new one in, then
//!   deletes the old: killed between the two renames, NAME is absent and the old output is in
//!   `.NAME.TAG-oldPID`.
//!
//! NAME may be missing, an empty folder, or an earlier output of the same command (the
//! command's [`Owner::is_ours`] says); anything else is refused, so no user file is ever
//! replaced.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Which command owns an output folder.
pub struct Owner {
    /// Names the hidden siblings (`synth`, `compare`, ...).
    pub tag: &'static str,
    /// Says the command in messages ("a `binarycop synth` output").
    pub what: &'static str,
    /// Whether an existing non-empty folder is an earlier output of this command.
    pub is_ours: fn(&Path) -> bool,
}

enum Existing {
    None,
    Empty,
    Ours,
}

/// Writes the folder `dir`: `fill` writes every file into the folder it is given, then that
/// folder replaces `dir` as described in the module documentation.
pub fn write_dir(dir: &Path, owner: &Owner, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = dir.file_name().ok_or_else(|| Error::file(dir, "--out must name a folder"))?.to_string_lossy();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::file(&parent, format!("cannot create the output's parent folder: {e}")))?;
    let existing = check_existing(dir, owner)?;
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.{}-tmp{pid}", owner.tag));
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    std::fs::create_dir(&tmp)
        .map_err(|e| Error::file(dir, format!("cannot write the output folder ({}): {e}", tmp.display())))?;
    if let Err(e) = fill(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.in_file(dir));
    }
    let io = |e: std::io::Error| Error::file(dir, format!("cannot move the new output into place: {e}"));
    let result = match existing {
        Existing::None => std::fs::rename(&tmp, dir).map_err(io),
        Existing::Empty => std::fs::remove_dir(dir).and_then(|_| std::fs::rename(&tmp, dir)).map_err(io),
        Existing::Ours => {
            let old = parent.join(format!(".{name}.{}-old{pid}", owner.tag));
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(dir, &old).map_err(io).and_then(|_| match std::fs::rename(&tmp, dir) {
                Ok(()) => {
                    let _ = std::fs::remove_dir_all(&old);
                    Ok(())
                }
                Err(e) => {
                    let _ = std::fs::rename(&old, dir);
                    Err(io(e))
                }
            })
        }
    };
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Fails early, before any work, if [`write_dir`] would refuse `dir`.
pub fn check_dir(dir: &Path, owner: &Owner) -> Result<()> {
    check_existing(dir, owner).map(|_| ())
}

/// Writes one file of a folder being filled; errors name it.
pub fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).map_err(|e| Error::file(&p, format!("cannot write: {e}")))
}

fn check_existing(dir: &Path, owner: &Owner) -> Result<Existing> {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::None),
        Err(e) => return Err(Error::file(dir, format!("cannot inspect --out: {e}"))),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(Error::file(dir, "--out exists and is not a folder"));
    }
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot read --out: {e}")))?;
    if entries.next().is_none() {
        return Ok(Existing::Empty);
    }
    if (owner.is_ours)(dir) {
        Ok(Existing::Ours)
    } else {
        Err(Error::file(
            dir,
            format!("--out is a non-empty folder that is not {}; choose a new folder or empty this one", owner.what),
        ))
    }
}

/// True when `dir/file` is JSON with every key of `keys` at its top level: how an output
/// folder's metrics or meta file marks it as a command's own.
pub fn json_has_keys(dir: &Path, file: &str, keys: &[&str]) -> bool {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| keys.iter().all(|k| v.get(k).is_some()))
}

/// True when every entry of `dir` satisfies `ok` (given its file name).
pub fn entries_all(dir: &Path, ok: impl Fn(&str) -> bool) -> bool {
    std::fs::read_dir(dir).map(|rd| rd.flatten().all(|e| e.file_name().to_str().is_some_and(&ok))).unwrap_or(false)
}
