//! The classic atomic file replace, explored under every persistence model: a second subject,
//! to show that the explorer is generic.
//!
//! Each replace: create `data/fN.tmp` with the target's mode (`0600`), write the new content,
//! set the mode again with `set_mode` (exact whatever the umask did), fsync it, rename it over
//! `data/fN`, fsync `data`; the replace is acknowledged after the directory fsync. Two broken
//! variants leave out one of the fsyncs; two more get the mode wrong: one creates the temp file
//! with the default mode and never sets it (the target silently becomes `0644`), one creates it
//! with the default mode, sets the mode with `set_mode` but syncs with `fdatasync`, which does
//! not make the mode durable. The checker: each target
//! holds exactly its old or its new content (atomic), every acknowledged replace shows its new
//! content (durable), each target keeps mode `0600` (mode), and recovery leaves no temp file
//! (clean).
//!
//! Run with `cargo run --example atomic_replace`.

use crashsafe::fs::{read_capped, FileMode, Fs};
use crashsafe::path::RelPath;
use crashsafe::sim::{
    all_models, explore, AckLog, CheckContext, ExploreConfig, Image, Node, SimFs, Subject,
    Violation,
};

/// Which recipe the workload follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// create, write, fsync, rename, fsync the directory.
    Correct,
    /// Leaves out the fsync of the temp file: the rename may reach the disk before the data.
    NoFsyncBeforeRename,
    /// Leaves out the fsync of the directory: an acknowledged rename may be lost.
    NoDirFsync,
    /// Creates the temp file with the default mode and never sets the target's: the replace
    /// loses it.
    LosesMode,
    /// Creates the temp file with the default mode, sets the target's with `set_mode`, then
    /// syncs with `fdatasync`, which does not make the new mode durable.
    ModeNotFsynced,
}

/// The mode every target has and must keep.
pub const TARGET_MODE: FileMode = match FileMode::new(0o600) {
    Some(mode) => mode,
    None => panic!("0600 is a mode"),
};

/// What the workload announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// Replace number `round` of file `file` is about to start.
    Start {
        /// Which file.
        file: usize,
        /// Which version it writes.
        round: usize,
    },
    /// Replace number `round` of file `file` returned: it must be durable.
    Done {
        /// Which file.
        file: usize,
        /// Which version it wrote.
        round: usize,
    },
}

/// The subject: `files` files under `data/`, each replaced `rounds` times (`files * rounds`
/// replaces of 5 operations each with [`Recipe::Correct`]).
#[derive(Debug, Clone)]
pub struct AtomicReplace {
    /// The recipe.
    pub recipe: Recipe,
    /// How many target files.
    pub files: usize,
    /// How many times each is replaced.
    pub rounds: usize,
    /// How long each version is, in bytes.
    pub size: usize,
}

impl AtomicReplace {
    /// `files` files replaced `rounds` times with 64-byte contents.
    pub fn new(recipe: Recipe, files: usize, rounds: usize) -> AtomicReplace {
        AtomicReplace {
            recipe,
            files,
            rounds,
            size: 64,
        }
    }

    /// Version `round` of file `file` (version 0 is the setup's).
    pub fn content(&self, file: usize, round: usize) -> Vec<u8> {
        let line = format!("file {file} version {round}\n");
        line.as_bytes()
            .iter()
            .copied()
            .cycle()
            .take(self.size.max(1))
            .collect()
    }

    fn target(file: usize) -> RelPath {
        RelPath::new(&format!("data/f{file}")).expect("a plain path")
    }

    fn temp(file: usize) -> RelPath {
        RelPath::new(&format!("data/f{file}.tmp")).expect("a plain path")
    }

    fn data_dir() -> RelPath {
        RelPath::new("data").expect("a plain path")
    }

    /// One replace; `Err` stops the workload (nothing is acknowledged after an error).
    fn replace(&self, fs: &SimFs, file: usize, round: usize) -> Result<(), String> {
        let err = |e: crashsafe::fs::FsError| e.to_string();
        // The target's mode, read before the replace.
        let mode = fs
            .stat(&Self::target(file))
            .map_err(err)?
            .map_or(TARGET_MODE, |m| m.mode);
        let mut f = match self.recipe {
            Recipe::LosesMode | Recipe::ModeNotFsynced => fs.create_new(&Self::temp(file)),
            _ => fs.create_new_with_mode(&Self::temp(file), mode),
        }
        .map_err(err)?;
        fs.write_at(&mut f, 0, &self.content(file, round))
            .map_err(err)?;
        if self.recipe != Recipe::LosesMode {
            // Exact whatever the umask did to the created mode; part of the inode's metadata.
            fs.set_mode(&mut f, mode).map_err(err)?;
        }
        match self.recipe {
            Recipe::NoFsyncBeforeRename => {}
            Recipe::ModeNotFsynced => fs.fdatasync(&mut f).map_err(err)?,
            _ => fs.fsync(&mut f).map_err(err)?,
        }
        drop(f);
        fs.rename(&Self::temp(file), &Self::target(file))
            .map_err(err)?;
        if self.recipe != Recipe::NoDirFsync {
            fs.fsync_dir(&Self::data_dir()).map_err(err)?;
        }
        Ok(())
    }
}

impl Subject for AtomicReplace {
    type Ack = Ack;

    fn name(&self) -> String {
        let recipe = match self.recipe {
            Recipe::Correct => "correct",
            Recipe::NoFsyncBeforeRename => "no-fsync-before-rename",
            Recipe::NoDirFsync => "no-dir-fsync",
            Recipe::LosesMode => "loses-mode",
            Recipe::ModeNotFsynced => "mode-not-fsynced",
        };
        format!("atomic-replace-{recipe}-{}x{}", self.files, self.rounds)
    }

    fn setup(&self) -> Image {
        let mut image = Image::new();
        image.put_dir(&Self::data_dir());
        for file in 0..self.files {
            image.put_file_with_mode(&Self::target(file), &self.content(file, 0), TARGET_MODE);
        }
        image
    }

    fn run(&self, fs: &SimFs, acks: &mut AckLog<Ack>) {
        for round in 1..=self.rounds {
            for file in 0..self.files {
                acks.push(fs.op_count(), Ack::Start { file, round });
                if self.replace(fs, file, round).is_err() {
                    return;
                }
                acks.push(fs.op_count(), Ack::Done { file, round });
            }
        }
    }

    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        let dir = Self::data_dir();
        let entries = fs.read_dir(&dir).map_err(|e| e.to_string())?;
        let mut removed = false;
        for entry in entries.iter().filter(|e| e.name.ends_with(".tmp")) {
            let path = dir.join(&entry.name).map_err(|e| e.to_string())?;
            fs.unlink(&path).map_err(|e| e.to_string())?;
            removed = true;
        }
        if removed {
            fs.fsync_dir(&dir).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn check(&self, ctx: &CheckContext<'_, Ack>) -> Vec<Violation> {
        let mut violations = Vec::new();
        let fs = SimFs::from_image(ctx.recovered);
        for file in 0..self.files {
            let (mut acked, mut started) = (0, 0);
            for (_, ack) in ctx.acks {
                match *ack {
                    Ack::Start { file: f, round } if f == file => started = round,
                    Ack::Done { file: f, round } if f == file => acked = round,
                    _ => {}
                }
            }
            let target = Self::target(file);
            let content = read_capped(&fs, &target, 1 << 20).ok();
            let version = content
                .as_ref()
                .and_then(|c| (0..=started).rev().find(|&r| *c == self.content(file, r)));
            match version {
                None => violations.push(Violation::new(
                    "atomic",
                    format!(
                        "{target} holds neither version {acked} nor {started}: {}",
                        match &content {
                            None => "it is missing".to_string(),
                            Some(c) => format!(
                                "{} bytes {:?}",
                                c.len(),
                                String::from_utf8_lossy(&c[..c.len().min(24)])
                            ),
                        }
                    ),
                )),
                Some(v) if v < acked => violations.push(Violation::new(
                    "durable",
                    format!("{target} holds version {v} but version {acked} was acknowledged"),
                )),
                Some(_) => {}
            }
            match ctx.recovered.mode(&target) {
                Some(mode) if mode != TARGET_MODE => violations.push(Violation::new(
                    "mode",
                    format!("{target} has mode {mode}, not {TARGET_MODE}"),
                )),
                _ => {}
            }
        }
        for (path, node) in ctx.recovered.walk() {
            if matches!(node, Node::File(_)) && path.as_str().ends_with(".tmp") {
                violations.push(Violation::new(
                    "clean",
                    format!("{path} left after recovery"),
                ));
            }
        }
        violations
    }
}

/// Explores each recipe under each model and prints what is caught.
#[allow(dead_code)]
fn main() {
    let config = ExploreConfig {
        inject_errors: true,
        ..ExploreConfig::default()
    };
    for recipe in [
        Recipe::Correct,
        Recipe::NoFsyncBeforeRename,
        Recipe::NoDirFsync,
        Recipe::LosesMode,
        Recipe::ModeNotFsynced,
    ] {
        let subject = AtomicReplace::new(recipe, 2, 2);
        for model in all_models() {
            let report = explore(&subject, model.as_ref(), &config);
            let verdict = if report.is_clean() {
                "clean".to_string()
            } else {
                format!("CAUGHT ({} violations)", report.violation_count)
            };
            println!(
                "{:<44} {:<13} {:>6} crash states, {:>5} distinct, {:?}: {verdict}",
                subject.name(),
                report.model,
                report.crash_states,
                report.distinct_states,
                report.elapsed
            );
            if let Some(first) = report.violations.first() {
                println!("{}\n", indent(&first.description));
            }
        }
    }
}

#[allow(dead_code)]
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
