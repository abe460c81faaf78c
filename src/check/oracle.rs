//! The journal's oracle: its invariants, checked on the state recovery left.
//!
//! The workload tells the oracle, through acknowledgements, which transactions began and which
//! were committed before the crash. Transactions run one after another and a workload stops at
//! its first failure, so at most one transaction is *uncertain* (begun, not acknowledged): it may
//! or may not have happened. Every other begun transaction was acknowledged and must show.
//!
//! | invariant | what is checked |
//! |---|---|
//! | `atomic` | every target holds exactly its content before or after the uncertain transaction |
//! | `durable` | no acknowledged update is lost (the target does not show an older content) |
//! | `history` | an increment exists, complete, if and only if its update stands |
//! | `batch-atomic` | an uncertain atomic batch stands wholly or not at all |
//! | `clean` | no temp file remains and the journal directory holds no entry |
//! | `confined` | every other path is as it was before the workload |
//!
//! `idempotent` (recovering twice changes nothing, crashing inside recovery is survivable) is
//! checked by the explorer for every subject.
//!
//! An update whose new content equals its old cannot be told apart on disk; for it, `history`
//! only asks that an increment, where one exists, be complete.

use crate::path::RelPath;
use crate::sim::{Image, Node, Violation};
use std::collections::{BTreeMap, BTreeSet};

/// What the workload tells the oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalAck {
    /// A transaction is about to start; its updates with their old and new content.
    Begin {
        /// Its index in the workload.
        txn: usize,
        /// Its updates.
        updates: Vec<PlannedUpdate>,
        /// All-or-nothing.
        atomic: bool,
    },
    /// The transaction's commit returned `Ok`.
    Committed {
        /// Its index in the workload.
        txn: usize,
    },
}

/// One update as the workload planned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpdate {
    /// The target.
    pub target: RelPath,
    /// Its content before (`None`: absent).
    pub old: Option<Vec<u8>>,
    /// Its content after (`None`: deleted).
    pub new: Option<Vec<u8>>,
    /// The increment's path and content.
    pub increment: Option<(RelPath, Vec<u8>)>,
}

type Content = Option<Vec<u8>>;

/// The journal's invariants (see the module doc), and the two the explorer checks for every
/// subject. Their names are what a [`Violation`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// Every target holds exactly its content before or after the uncertain transaction.
    Atomic,
    /// No acknowledged update is lost.
    Durable,
    /// An increment exists, complete, if and only if its update stands.
    History,
    /// An uncertain atomic batch stands wholly or not at all.
    BatchAtomic,
    /// No temp file remains and the journal directory holds no entry.
    Clean,
    /// Every other path is as it was before the workload.
    Confined,
    /// Recovering twice changes nothing; a crash inside recovery is survivable (the explorer).
    Idempotent,
    /// Recovery returned an error or panicked (the explorer).
    RecoveryError,
}

impl Invariant {
    /// Every invariant, in report order.
    pub const ALL: [Invariant; 8] = [
        Invariant::Atomic,
        Invariant::Durable,
        Invariant::History,
        Invariant::BatchAtomic,
        Invariant::Clean,
        Invariant::Confined,
        Invariant::Idempotent,
        Invariant::RecoveryError,
    ];

    /// The short name a [`Violation`] carries.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Atomic => "atomic",
            Invariant::Durable => "durable",
            Invariant::History => "history",
            Invariant::BatchAtomic => "batch-atomic",
            Invariant::Clean => "clean",
            Invariant::Confined => "confined",
            Invariant::Idempotent => "idempotent",
            Invariant::RecoveryError => "recovery-error",
        }
    }

    /// The invariant called `name`.
    pub fn from_name(name: &str) -> Option<Invariant> {
        Invariant::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn violation(invariant: Invariant, message: String) -> Violation {
    Violation {
        invariant: invariant.name().to_string(),
        message,
    }
}

/// A short description of a content for messages.
pub fn describe(content: &Option<Vec<u8>>) -> String {
    match content {
        None => "absent".into(),
        Some(bytes) if bytes.is_empty() => "empty".into(),
        Some(bytes) if bytes.iter().all(|&b| b == 0) => format!("{} zero bytes", bytes.len()),
        Some(bytes) => {
            let preview: String = bytes
                .iter()
                .take(12)
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
            format!(
                "{} bytes {preview:?}{}",
                bytes.len(),
                if bytes.len() > 12 { "…" } else { "" }
            )
        }
    }
}

fn found_content(image: &Image, path: &RelPath) -> Result<Content, String> {
    match image.get(path) {
        None => Ok(None),
        Some(Node::File(data)) => Ok(Some(data.as_ref().clone())),
        Some(Node::Dir) => Err("a directory".into()),
        Some(Node::Symlink(t)) => Err(format!("a symlink to {t:?}")),
    }
}

/// Checks the recovered image against the acknowledgements of a journal workload.
pub fn check(
    setup: &Image,
    recovered: &Image,
    acks: &[(usize, JournalAck)],
    journal_dir: &RelPath,
) -> Vec<Violation> {
    let mut out = Vec::new();
    // Replay the acknowledged transactions; keep the uncertain one aside.
    let mut begun: BTreeMap<usize, (&Vec<PlannedUpdate>, bool)> = BTreeMap::new();
    let mut acked = BTreeSet::new();
    for (_, ack) in acks {
        match ack {
            JournalAck::Begin {
                txn,
                updates,
                atomic,
            } => {
                begun.insert(*txn, (updates, *atomic));
            }
            JournalAck::Committed { txn } => {
                acked.insert(*txn);
            }
        }
    }
    // Borrowed, not cloned: this runs for every crash state, over every acknowledged update.
    let mut expected: BTreeMap<&RelPath, &Content> = BTreeMap::new();
    let mut older: BTreeMap<&RelPath, Vec<&Content>> = BTreeMap::new();
    let mut increments: BTreeMap<&RelPath, (&Vec<u8>, bool)> = BTreeMap::new(); // (bytes, required)
    let mut uncertain = None;
    for (txn, (updates, atomic)) in &begun {
        if !acked.contains(txn) {
            uncertain = Some((*txn, *updates, *atomic));
            continue;
        }
        for u in updates.iter() {
            older.entry(&u.target).or_default().push(&u.old);
            expected.insert(&u.target, &u.new);
            if let Some((path, bytes)) = &u.increment {
                increments.insert(path, (bytes, u.old != u.new));
            }
        }
    }
    // Targets of acknowledged transactions.
    let mut uncertain_targets = BTreeSet::new();
    if let Some((_, updates, _)) = uncertain {
        uncertain_targets.extend(updates.iter().map(|u| &u.target));
    }
    for (&target, &want) in &expected {
        if uncertain_targets.contains(target) {
            continue;
        }
        match found_content(recovered, target) {
            Ok(found) if &found == want => {}
            Ok(found) => out.push(lost_or_torn(target, want, &found, older.get(target), None)),
            Err(kind) => out.push(violation(Invariant::Atomic, format!("{target} is {kind}"))),
        }
    }
    // The uncertain transaction: each target old or new; increments follow; batches whole.
    if let Some((txn, updates, atomic)) = uncertain {
        let mut happened = Vec::new();
        for u in updates {
            let found = match found_content(recovered, &u.target) {
                Ok(f) => f,
                Err(kind) => {
                    out.push(violation(Invariant::Atomic, format!("{} is {kind}", u.target)));
                    continue;
                }
            };
            if found != u.old && found != u.new {
                out.push(lost_or_torn(
                    &u.target,
                    &u.old,
                    &found,
                    older.get(&u.target),
                    u.new.as_ref(),
                ));
                continue;
            }
            let distinguishable = u.old != u.new;
            let stands = found == u.new;
            if distinguishable {
                happened.push((u.target.clone(), stands));
            }
            if let Some((path, bytes)) = &u.increment {
                let inc = found_content(recovered, path).unwrap_or(None);
                let ok = match (distinguishable, stands, &inc) {
                    (_, _, Some(b)) if b != bytes => false,
                    (true, true, None) => false,
                    (true, false, Some(_)) => false,
                    _ => true,
                };
                if !ok {
                    out.push(violation(
                Invariant::History,
                        format!(
                            "transaction {txn}: {} shows its {} content but its increment {path} \
                             is {} (expected {})",
                            u.target,
                            if stands { "new" } else { "old" },
                            describe(&inc),
                            if stands {
                                describe(&Some(bytes.clone()))
                            } else {
                                "absent".into()
                            }
                        ),
                    ));
                }
            }
        }
        let done = happened.iter().filter(|(_, s)| *s).count();
        if atomic && done > 0 && done < happened.len() {
            let new: Vec<String> = happened
                .iter()
                .filter(|(_, s)| *s)
                .map(|(t, _)| t.to_string())
                .collect();
            let old: Vec<String> = happened
                .iter()
                .filter(|(_, s)| !*s)
                .map(|(t, _)| t.to_string())
                .collect();
            out.push(violation(
                Invariant::BatchAtomic,
                format!(
                    "atomic transaction {txn} is half done: new {} / old {}",
                    new.join(", "),
                    old.join(", ")
                ),
            ));
        }
    }
    // Increments of acknowledged updates.
    for (&path, &(bytes, required)) in &increments {
        let inc = found_content(recovered, path).unwrap_or(None);
        let ok = match &inc {
            Some(b) => b == bytes,
            None => !required,
        };
        if !ok {
            out.push(violation(
                Invariant::History,
                format!(
                    "the increment {path} of an acknowledged update is {} (expected {})",
                    describe(&inc),
                    describe(&Some(bytes.clone()))
                ),
            ));
        }
    }
    check_clean_and_confined(setup, recovered, journal_dir, &begun, &mut out);
    out
}

/// A target holding a content it should not: `durable` if it is an older content (an
/// acknowledged update was lost), `atomic` otherwise (torn, zero-filled, mixed).
fn lost_or_torn(
    target: &RelPath,
    want: &Content,
    found: &Content,
    older: Option<&Vec<&Content>>,
    alternative: Option<&Vec<u8>>,
) -> Violation {
    let expected = match alternative {
        Some(new) => format!("{} or {}", describe(want), describe(&Some(new.clone()))),
        None => describe(want),
    };
    if older.is_some_and(|o| o.contains(&found)) {
        violation(
                Invariant::Durable,
            format!(
                "{target}: an acknowledged update was lost: expected {expected}, found {}",
                describe(found)
            ),
        )
    } else {
        violation(
                Invariant::Atomic,
            format!(
                "{target} holds neither its old nor its new content: expected {expected}, found {}",
                describe(found)
            ),
        )
    }
}

fn check_clean_and_confined(
    setup: &Image,
    recovered: &Image,
    journal_dir: &RelPath,
    begun: &BTreeMap<usize, (&Vec<PlannedUpdate>, bool)>,
    out: &mut Vec<Violation>,
) {
    let mut named = BTreeSet::new();
    for (updates, _) in begun.values() {
        for u in updates.iter() {
            named.insert(u.target.clone());
            if let Some((p, _)) = &u.increment {
                named.insert(p.clone());
            }
        }
    }
    let after = recovered.walk();
    let before = setup.walk();
    for (path, node) in &after {
        if path.starts_with(journal_dir) && path != journal_dir {
            out.push(violation(
                Invariant::Clean,
                format!("the journal still holds {path}"),
            ));
            continue;
        }
        let name = path.file_name().unwrap_or_default();
        if name.starts_with(".crashsafe-") && name.ends_with(".tmp") {
            out.push(violation(Invariant::Clean, format!("the temp file {path} remains")));
            continue;
        }
        if named.contains(path) || journal_dir.starts_with(path) {
            continue;
        }
        if before.get(path) != Some(node) {
            out.push(violation(Invariant::Confined, format!("{path} was created or changed by recovery or the journal, and no entry names it")));
        }
    }
    for path in before.keys() {
        if !after.contains_key(path) && !named.contains(path) {
            out.push(violation(
                Invariant::Confined,
                format!("{path} was removed, and no entry names it"),
            ));
        }
    }
}
