//! The labelled images `eval` reads: an image folder (one subfolder per class, the ImageFolder
//! convention) or a labelled `.npy` pair.
//!
//! A folder is walked once, up front, for the paths only (sorted, so every run sees the same
//! order): each subfolder of DIR is a class ([`ClassIndex`] says which), and every file below it,
//! at most [`MAX_EVAL_DEPTH`] folders deep, is one of its images. Files directly in DIR belong to
//! no class and are ignored (named in the summary; synth's meta.json is one). Hidden entries (names starting with `.`) are left
//! out. The walk stops with an error past [`MAX_EVAL_ENTRIES`] entries.

use std::path::{Path, PathBuf};

use super::classmap::ClassIndex;
use crate::error::{Error, Result};
use crate::limits::{self, MAX_EVAL_CLASS_FOLDERS, MAX_EVAL_DEPTH, MAX_EVAL_ENTRIES};

/// One image file and its class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub class: usize,
}

/// A class folder: its name, its class and how many files it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassFolder {
    pub name: String,
    pub class: usize,
    pub files: usize,
}

/// A walked image folder: every file's path and class, nothing decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub root: PathBuf,
    pub folders: Vec<ClassFolder>,
    pub entries: Vec<Entry>,
    /// Files directly in the root: in no class, ignored.
    pub stray: Vec<PathBuf>,
}

/// What is walked, counted against [`MAX_EVAL_ENTRIES`].
struct Walk {
    seen: usize,
}

impl Walk {
    /// The entries of `dir`, sorted by name, hidden ones left out.
    fn list(&mut self, dir: &Path) -> Result<Vec<(String, PathBuf)>> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot read the folder: {e}")))?;
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| Error::file(dir, format!("cannot read the folder: {e}")))?;
            self.seen += 1;
            if self.seen > MAX_EVAL_ENTRIES {
                return Err(Error::file(
                    dir,
                    format!(
                        "the dataset has more files and folders than eval walks ({})",
                        limits::named("MAX_EVAL_ENTRIES", MAX_EVAL_ENTRIES)
                    ),
                ));
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                out.push((name, e.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every file below `dir` (depth counts folders below the class folder).
    fn files(&mut self, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
        for (_, p) in self.list(dir)? {
            if !p.is_dir() {
                out.push(p);
            } else if depth < MAX_EVAL_DEPTH {
                self.files(&p, depth + 1, out)?;
            } else {
                return Err(Error::file(
                    &p,
                    format!(
                        "folders nest deeper below their class folder than eval walks ({}; a symbolic-link loop?)",
                        limits::named("MAX_EVAL_DEPTH", MAX_EVAL_DEPTH)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Folder {
    /// Walks `root`. Errors name the path: not a folder, no class folders, a folder that is no
    /// class, only one class, no files at all.
    pub fn scan(root: &Path, classes: &ClassIndex) -> Result<Folder> {
        if !root.is_dir() {
            return Err(Error::file(root, "--images: not a folder (an image folder has one subfolder per class)"));
        }
        let mut walk = Walk { seen: 0 };
        let mut set = Folder { root: root.to_path_buf(), folders: Vec::new(), entries: Vec::new(), stray: Vec::new() };
        for (name, p) in walk.list(root)? {
            if !p.is_dir() {
                set.stray.push(p);
                continue;
            }
            set.add_class(&mut walk, name, &p, classes)?;
        }
        set.check()?;
        Ok(set)
    }

    fn add_class(&mut self, walk: &mut Walk, name: String, dir: &Path, classes: &ClassIndex) -> Result<()> {
        if self.folders.len() == MAX_EVAL_CLASS_FOLDERS {
            return Err(Error::file(
                &self.root,
                format!(
                    "more class folders than eval reads ({})",
                    limits::named("MAX_EVAL_CLASS_FOLDERS", MAX_EVAL_CLASS_FOLDERS)
                ),
            ));
        }
        let class = classes.class_of(&name, dir)?;
        let mut files = Vec::new();
        walk.files(dir, 0, &mut files)?;
        self.folders.push(ClassFolder { name, class, files: files.len() });
        self.entries.extend(files.into_iter().map(|path| Entry { path, class }));
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::file(&self.root, msg));
        if self.folders.is_empty() {
            return bad("no class subfolders: an image folder has one subfolder per class (ImageFolder layout)".into());
        }
        if self.entries.is_empty() {
            return bad("no images: the class folders hold no files".into());
        }
        let full: Vec<&ClassFolder> = self.folders.iter().filter(|f| f.files > 0).collect();
        if full.iter().all(|f| f.class == full[0].class) {
            let names: Vec<_> = full.iter().map(|f| f.name.as_str()).collect();
            return bad(format!(
                "only one class has files ({}): accuracy, precision and recall need images of at least two classes",
                names.join(", ")
            ));
        }
        Ok(())
    }
}

/// A labelled `.npy` pair: uint8 images N×H×W×C and integer labels N.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyPair {
    pub images: PathBuf,
    pub labels: PathBuf,
}

/// What `eval` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dataset {
    Folder(Folder),
    Npy(NpyPair),
}

/// The labels of an `.npy` pair: a 1-D integer array of `n` class indices below `classes`.
pub fn read_labels(path: &Path, n: usize, classes: usize) -> Result<Vec<usize>> {
    let bytes = crate::data::read_input(path)?;
    let (values, shape) = crate::npy::read_integers(&bytes).map_err(|e| e.in_file(path))?;
    if shape != [n] {
        return Err(Error::file(path, format!("labels have shape {shape:?}; the images need ({n},), one per image")));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            usize::try_from(v).ok().filter(|&c| c < classes).ok_or_else(|| {
                Error::file(path, format!("label {i} is {v}; the model's classes are 0 to {}", classes - 1))
            })
        })
        .collect()
}
