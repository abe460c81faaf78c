//! Journal workloads: transactions run through the journal on the simulated filesystem, as a
//! [`Subject`] the explorer can crash at every operation.
//!
//! A workload is data (serializable), so that a generated one can travel inside a replay token:
//! its name is either a built-in suite name or `gen-` followed by the hex of its postcard encoding.

use super::oracle::{self, JournalAck, PlannedUpdate};
use crate::journal::{Defect, Journal, JournalOptions, Source, SyncMode, Update};
use crate::path::RelPath;
use crate::sim::{AckLog, CheckContext, Image, Node, SimFs, Subject, Violation};
use serde::{Deserialize, Serialize};

/// One update of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSpec {
    /// The target, relative to the root.
    pub target: RelPath,
    /// The new content; `None` deletes the target.
    pub new: Option<Vec<u8>>,
    /// An increment: its path and content.
    pub increment: Option<(RelPath, Vec<u8>)>,
}

/// One transaction: a single update, or a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnSpec {
    /// The updates.
    pub updates: Vec<UpdateSpec>,
    /// All-or-nothing.
    pub atomic: bool,
}

/// How the journal is configured for a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SyncSpec {
    /// fsync per file and directory.
    #[default]
    PerFile,
    /// syncfs per step.
    Syncfs,
}

/// A journal workload: the files present before it, then its transactions in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Directories present before the workload (parents are created as needed).
    pub dirs: Vec<RelPath>,
    /// Files present before the workload.
    pub files: Vec<(RelPath, Vec<u8>)>,
    /// The transactions, committed one after the other; the first failure ends the workload.
    pub txns: Vec<TxnSpec>,
    /// How the journal syncs.
    pub sync: SyncSpec,
}

/// A workload run through the journal, possibly with a deliberate defect: the explorer's subject.
#[derive(Debug, Clone)]
pub struct JournalSubject {
    /// The name the suite and replay tokens know it by.
    pub name: String,
    /// What it does.
    pub workload: Workload,
    /// A known-bad protocol, for the self-test.
    pub defect: Option<Defect>,
}

/// Where the workloads keep their journal.
pub fn journal_dir() -> RelPath {
    RelPath::new(crate::journal::DEFAULT_JOURNAL_DIR).expect("the default is a plain path")
}

impl Workload {
    /// The name of a generated workload: `gen-` and the hex of its encoding.
    pub fn generated_name(&self) -> String {
        let bytes = postcard::to_allocvec(self).expect("a workload always encodes");
        let mut name = String::from("gen-");
        for b in bytes {
            name.push_str(&format!("{b:02x}"));
        }
        name
    }

    /// Decodes a [`Workload::generated_name`].
    pub fn from_generated_name(name: &str) -> Option<Workload> {
        let hex = name.strip_prefix("gen-")?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        postcard::from_bytes(&bytes).ok()
    }

    /// How many updates the workload commits.
    pub fn update_count(&self) -> usize {
        self.txns.iter().map(|t| t.updates.len()).sum()
    }

    fn options(&self, defect: Option<Defect>) -> JournalOptions {
        let sync = match self.sync {
            SyncSpec::PerFile => SyncMode::PerFile,
            SyncSpec::Syncfs => SyncMode::Syncfs,
        };
        JournalOptions { sync, defect }
    }
}

impl JournalSubject {
    /// Runs the journal's recovery, configured as this subject's, on any filesystem (the
    /// simulator's, or a real directory holding a crash state). A refused entry is an error.
    pub fn recover_on<F: crate::fs::Fs>(&self, fs: F) -> Result<(), String> {
        let options = self.workload.options(self.defect);
        let mut journal = Journal::open_with(fs, journal_dir(), options)
            .map_err(|e| format!("opening the journal: {e}"))?;
        let report = journal
            .recover()
            .map_err(|e| format!("recovery failed: {e}"))?;
        if let Some((name, why)) = report.refused.first() {
            return Err(format!("recovery refused entry {name}: {why}"));
        }
        Ok(())
    }
}

impl Subject for JournalSubject {
    type Ack = JournalAck;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn setup(&self) -> Image {
        let mut image = Image::new();
        for d in &self.workload.dirs {
            image.put_dir(d);
        }
        for (path, bytes) in &self.workload.files {
            image.put_file(path, bytes);
        }
        image
    }

    fn run(&self, fs: &SimFs, acks: &mut AckLog<JournalAck>) {
        let options = self.workload.options(self.defect);
        let Ok(mut journal) = Journal::open_with(fs, journal_dir(), options) else {
            return;
        };
        for (index, txn) in self.workload.txns.iter().enumerate() {
            let live = fs.image();
            let planned = txn
                .updates
                .iter()
                .map(|u| PlannedUpdate {
                    target: u.target.clone(),
                    old: file_content(&live, &u.target),
                    new: u.new.clone(),
                    increment: u.increment.clone(),
                })
                .collect();
            acks.push(
                fs.op_count(),
                JournalAck::Begin {
                    txn: index,
                    updates: planned,
                    atomic: txn.atomic,
                },
            );
            let updates = txn
                .updates
                .iter()
                .map(|u| {
                    let update = match &u.new {
                        Some(bytes) => Update::write(u.target.clone(), bytes.clone()),
                        None => Update::delete(u.target.clone()),
                    };
                    match &u.increment {
                        Some((path, bytes)) => {
                            update.with_increment(path.clone(), Source::Bytes(bytes.clone()))
                        }
                        None => update,
                    }
                })
                .collect();
            match journal.commit_batch(updates, txn.atomic) {
                Ok(_) => acks.push(fs.op_count(), JournalAck::Committed { txn: index }),
                Err(_) => return,
            }
        }
    }

    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        self.recover_on(fs)
    }

    fn check(&self, ctx: &CheckContext<'_, JournalAck>) -> Vec<Violation> {
        oracle::check(ctx.setup, ctx.recovered, ctx.acks, &journal_dir())
    }
}

/// A regular file's content in an image, `None` if absent (or not a file).
pub fn file_content(image: &Image, path: &RelPath) -> Option<Vec<u8>> {
    match image.get(path) {
        Some(Node::File(data)) => Some(data.as_ref().clone()),
        _ => None,
    }
}
