//! The journal's oracle: its invariants, checked on the state recovery left.
//!
//! The workload tells the oracle, through acknowledgements, which transactions began and which
//! were committed before the crash. Transactions run one after another; after a failed commit a
//! workload either stops or reopens the journal and recovers it, and then tells the oracle which
//! outcome recovery chose (read from the live view): the transaction is *settled* that way. So at
//! most one transaction is *uncertain* (begun, neither acknowledged nor settled): it may or may
//! not have happened. Every acknowledged transaction must show, and every settled one must show
//! as recovery left it.
//!
//! | invariant | what is checked |
//! |---|---|
//! | `atomic` | every target holds exactly its content before or after the uncertain transaction |
//! | `durable` | no acknowledged update, nor any outcome recovery settled, is lost (the target does not show an older content) |
//! | `history` | an increment exists, complete, if and only if its update stands |
//! | `batch-atomic` | an uncertain atomic batch stands wholly or not at all |
//! | `clean` | no temp file remains and the journal directory holds no entry (its floor and registry files may stay) |
//! | `confined` | every other path is as it was before the workload |
//!
//! `idempotent` (recovering twice changes nothing, crashing inside recovery is survivable) is
//! checked by the explorer for every subject.
//!
//! An update whose new content equals its old cannot be told apart on disk; for it, `history`
//! only asks that an increment, where one exists, be complete.

use crate::journal::recover::update_happened;
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
    /// The transaction's commit failed; the journal was then reopened and recovered in the same
    /// run, and recovery returned with nothing refused. A later crash must not undo the outcome
    /// it chose.
    Recovered {
        /// Its index in the workload.
        txn: usize,
        /// Each target's content in the live view once recovery returned, in the order of the
        /// transaction's updates (`None`: absent).
        found: Vec<Option<Vec<u8>>>,
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
    let history = History::of(acks);
    // Replay the acknowledged and settled transactions; keep the uncertain one aside.
    let mut exp = Expected::default();
    let mut uncertain = None;
    for (&txn, &(updates, atomic)) in &history.begun {
        if history.acked.contains(&txn) {
            updates.iter().for_each(|u| exp.stands(u));
        } else if let Some(found) = history.settled.get(&txn) {
            exp.settle(txn, updates, atomic, found, &mut out);
        } else {
            uncertain = Some(Uncertain {
                txn,
                updates,
                atomic,
            });
        }
    }
    let skip: BTreeSet<&RelPath> = uncertain
        .iter()
        .flat_map(|u| u.updates.iter().map(|u| &u.target))
        .collect();
    check_targets(recovered, &exp, &skip, &mut out);
    if let Some(uncertain) = uncertain {
        uncertain.check(recovered, &exp.older, &mut out);
    }
    check_increments(recovered, &exp.increments, &mut out);
    check_clean_and_confined(setup, recovered, journal_dir, &history.begun, &mut out);
    out
}

/// The transactions the acknowledgements tell of.
struct History<'a> {
    /// Every transaction begun: its updates and whether it is atomic.
    begun: BTreeMap<usize, (&'a Vec<PlannedUpdate>, bool)>,
    /// The transactions acknowledged.
    acked: BTreeSet<usize>,
    /// The transactions settled by a recovery in the same run, with what it left.
    settled: BTreeMap<usize, &'a Vec<Content>>,
}

impl<'a> History<'a> {
    fn of(acks: &'a [(usize, JournalAck)]) -> History<'a> {
        let mut history = History {
            begun: BTreeMap::new(),
            acked: BTreeSet::new(),
            settled: BTreeMap::new(),
        };
        for (_, ack) in acks {
            match ack {
                JournalAck::Begin {
                    txn,
                    updates,
                    atomic,
                } => {
                    history.begun.insert(*txn, (updates, *atomic));
                }
                JournalAck::Committed { txn } => {
                    history.acked.insert(*txn);
                }
                JournalAck::Recovered { txn, found } => {
                    history.settled.insert(*txn, found);
                }
            }
        }
        history
    }
}

/// Every target of an acknowledged or settled transaction (except those of the uncertain one,
/// in `skip`) holds the content expected.
fn check_targets(
    recovered: &Image,
    exp: &Expected<'_>,
    skip: &BTreeSet<&RelPath>,
    out: &mut Vec<Violation>,
) {
    for (&target, &want) in &exp.content {
        if skip.contains(target) {
            continue;
        }
        match found_content(recovered, target) {
            Ok(found) if &found == want => {}
            Ok(found) => out.push(lost_or_torn(
                target,
                want,
                &found,
                exp.older.get(target),
                None,
            )),
            Err(kind) => out.push(violation(Invariant::Atomic, format!("{target} is {kind}"))),
        }
    }
}

/// The one transaction begun and neither acknowledged nor settled: it may or may not have
/// happened.
struct Uncertain<'a> {
    txn: usize,
    updates: &'a [PlannedUpdate],
    atomic: bool,
}

impl Uncertain<'_> {
    /// Each target old or new, each increment present if and only if its update happened (the
    /// journal's rule, [`update_happened`]), an atomic batch whole.
    fn check(
        &self,
        recovered: &Image,
        older: &BTreeMap<&RelPath, Vec<&Content>>,
        out: &mut Vec<Violation>,
    ) {
        // The updates that can show whether they happened, with whether they did.
        let mut happened = Vec::new();
        for u in self.updates {
            let found = match found_content(recovered, &u.target) {
                Ok(f) => f,
                Err(kind) => {
                    let message = format!("{} is {kind}", u.target);
                    out.push(violation(Invariant::Atomic, message));
                    continue;
                }
            };
            if found != u.old && found != u.new {
                let new = u.new.as_ref();
                out.push(lost_or_torn(
                    &u.target,
                    &u.old,
                    &found,
                    older.get(&u.target),
                    new,
                ));
                continue;
            }
            let increment = u.increment.as_ref().map(|(path, bytes)| {
                || found_content(recovered, path).unwrap_or(None).as_ref() == Some(bytes)
            });
            let done = update_happened(&u.old, &u.new, &found, increment);
            if u.old != u.new {
                happened.push((u.target.clone(), done));
            }
            self.check_increment(recovered, u, found == u.new, done, out);
        }
        self.check_whole(&happened, out);
    }

    /// The increment of `u` (whose target shows its new content if `shows_new`) exists,
    /// complete, if its update happened, and is absent if not.
    fn check_increment(
        &self,
        recovered: &Image,
        u: &PlannedUpdate,
        shows_new: bool,
        happened: bool,
        out: &mut Vec<Violation>,
    ) {
        let Some((path, bytes)) = &u.increment else {
            return;
        };
        let inc = found_content(recovered, path).unwrap_or(None);
        let ok = match happened {
            true => inc.as_ref() == Some(bytes),
            false => inc.is_none(),
        };
        if !ok {
            out.push(violation(
                Invariant::History,
                format!(
                    "transaction {}: {} shows its {} content but its increment {path} is {} \
                     (expected {})",
                    self.txn,
                    u.target,
                    if shows_new { "new" } else { "old" },
                    describe(&inc),
                    if shows_new {
                        describe(&Some(bytes.clone()))
                    } else {
                        "absent".into()
                    }
                ),
            ));
        }
    }

    /// An atomic batch stands wholly or not at all (`happened`: each distinguishable update
    /// with whether it happened).
    fn check_whole(&self, happened: &[(RelPath, bool)], out: &mut Vec<Violation>) {
        let done = happened.iter().filter(|(_, s)| *s).count();
        if !self.atomic || done == 0 || done == happened.len() {
            return;
        }
        let side = |new: bool| -> Vec<String> {
            happened
                .iter()
                .filter(|(_, s)| *s == new)
                .map(|(t, _)| t.to_string())
                .collect()
        };
        out.push(violation(
            Invariant::BatchAtomic,
            format!(
                "atomic transaction {} is half done: new {} / old {}",
                self.txn,
                side(true).join(", "),
                side(false).join(", ")
            ),
        ));
    }
}

/// The increments of acknowledged and settled updates follow their rules.
fn check_increments(
    recovered: &Image,
    increments: &BTreeMap<&RelPath, (&Vec<u8>, IncrementRule)>,
    out: &mut Vec<Violation>,
) {
    for (&path, &(bytes, rule)) in increments {
        let inc = found_content(recovered, path).unwrap_or(None);
        let ok = match (&inc, rule) {
            (Some(_), IncrementRule::Absent) => false,
            (Some(b), _) => b == bytes,
            (None, IncrementRule::Required) => false,
            (None, _) => true,
        };
        if !ok {
            let (whose, want) = match rule {
                IncrementRule::Absent => ("an update recovery rolled back", "absent".into()),
                _ => ("an acknowledged update", describe(&Some(bytes.clone()))),
            };
            out.push(violation(
                Invariant::History,
                format!(
                    "the increment {path} of {whose} is {} (expected {want})",
                    describe(&inc)
                ),
            ));
        }
    }
}

/// Whether an increment must exist after recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IncrementRule {
    /// Its update stands: it must exist, complete.
    Required,
    /// Its update cannot be told apart on disk: it may exist, complete, or not.
    Optional,
    /// Its update was rolled back: it must not exist.
    Absent,
}

/// What the acknowledged and settled transactions require of the recovered image. Borrowed, not
/// cloned: this runs for every crash state, over every such update.
#[derive(Default)]
struct Expected<'a> {
    /// Each target's content.
    content: BTreeMap<&'a RelPath, &'a Content>,
    /// The contents each target held before, or could have held had recovery decided otherwise:
    /// finding one of them means an outcome was lost, not torn.
    older: BTreeMap<&'a RelPath, Vec<&'a Content>>,
    /// Each increment's content and rule.
    increments: BTreeMap<&'a RelPath, (&'a Vec<u8>, IncrementRule)>,
}

impl<'a> Expected<'a> {
    /// `u` happened.
    fn stands(&mut self, u: &'a PlannedUpdate) {
        self.older.entry(&u.target).or_default().push(&u.old);
        self.content.insert(&u.target, &u.new);
        if let Some((path, bytes)) = &u.increment {
            let rule = if u.old != u.new {
                IncrementRule::Required
            } else {
                IncrementRule::Optional
            };
            self.increments.insert(path, (bytes, rule));
        }
    }

    /// `u` was rolled back.
    fn rolled_back(&mut self, u: &'a PlannedUpdate) {
        self.older.entry(&u.target).or_default().push(&u.new);
        self.content.insert(&u.target, &u.old);
        if let Some((path, bytes)) = &u.increment {
            let rule = if u.old != u.new {
                IncrementRule::Absent
            } else {
                IncrementRule::Optional
            };
            self.increments.insert(path, (bytes, rule));
        }
    }

    /// Transaction `txn` was settled by a recovery that left each target as `found` in the live
    /// view: each update stands or was rolled back accordingly, and a recovery that left a target
    /// torn, or an atomic batch half done, is a violation in itself.
    fn settle(
        &mut self,
        txn: usize,
        updates: &'a [PlannedUpdate],
        atomic: bool,
        found: &[Content],
        out: &mut Vec<Violation>,
    ) {
        let (mut new, mut old) = (Vec::new(), Vec::new());
        for (u, f) in updates.iter().zip(found) {
            // Whether recovery made it stand, by the journal's rule. An update that cannot show
            // it (its new content equals its old) requires the same either way: it stands.
            let neither = f != &u.new && f != &u.old;
            if !neither && update_happened(&u.old, &u.new, f, None::<fn() -> bool>) {
                self.stands(u);
                if u.old != u.new {
                    new.push(u.target.to_string());
                }
            } else if !neither {
                self.rolled_back(u);
                old.push(u.target.to_string());
            } else {
                out.push(violation(
                    Invariant::Atomic,
                    format!(
                        "transaction {txn} failed and the journal was reopened and recovered: \
                         recovery left {} holding {}, neither its old nor its new content",
                        u.target,
                        describe(f)
                    ),
                ));
            }
        }
        if atomic && !new.is_empty() && !old.is_empty() {
            out.push(violation(
                Invariant::BatchAtomic,
                format!(
                    "atomic transaction {txn} failed and recovery in the same run left it half \
                     done: new {} / old {}",
                    new.join(", "),
                    old.join(", ")
                ),
            ));
        }
    }
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
                "{target}: an acknowledged or settled outcome was lost: expected {expected}, found {}",
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
            if is_journal_own_file(journal_dir, path, node) {
                continue;
            }
            out.push(violation(
                Invariant::Clean,
                format!("the journal still holds {path}"),
            ));
            continue;
        }
        let name = path.file_name().unwrap_or_default();
        if name.starts_with(".crashsafe-") && (name.ends_with(".tmp") || name.ends_with(".inc")) {
            out.push(violation(
                Invariant::Clean,
                format!("the temp file {path} remains"),
            ));
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

/// Whether `path` is one of the files the journal keeps on purpose, not an entry left behind:
/// a floor file (see `src/journal/recover.rs`, "The floor") or a registry file (see
/// `src/journal/registry.rs`), each durable once written.
/// A registry file counts only whole: a torn one names nothing and recovery removes it.
fn is_journal_own_file(journal_dir: &RelPath, path: &RelPath, node: &Node) -> bool {
    use crate::journal::recover::{parse_name, EntryFile};
    if path.parent().as_ref() != Some(journal_dir) {
        return false;
    }
    match (path.file_name().and_then(parse_name), node) {
        (Some((_, EntryFile::Floor)), Node::File(_)) => true,
        (Some((_, EntryFile::Dirs)), Node::File(data)) => {
            crate::journal::registry::decode(data).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("plain")
    }

    const OLD: &[u8] = b"old content";
    const NEW: &[u8] = b"new content";
    const INC: &[u8] = b"increment";

    fn setup() -> Image {
        let mut image = Image::new();
        image.put_dir(&p("inc"));
        image.put_dir(&p(".crashsafe/journal"));
        image.put_file(&p("t"), OLD);
        image
    }

    fn planned(old: &[u8], new: &[u8], inc: &str) -> PlannedUpdate {
        PlannedUpdate {
            target: p("t"),
            old: Some(old.to_vec()),
            new: Some(new.to_vec()),
            increment: Some((p(inc), INC.to_vec())),
        }
    }

    fn begin(txn: usize, updates: Vec<PlannedUpdate>, atomic: bool) -> (usize, JournalAck) {
        (
            0,
            JournalAck::Begin {
                txn,
                updates,
                atomic,
            },
        )
    }

    fn recovered(txn: usize, found: &[&[u8]]) -> (usize, JournalAck) {
        let found = found.iter().map(|f| Some(f.to_vec())).collect();
        (0, JournalAck::Recovered { txn, found })
    }

    /// The recovered image: `t` holding `target`, and the increment `inc/1` if `inc`.
    fn after(target: &[u8], inc: bool) -> Image {
        let mut image = setup();
        image.put_file(&p("t"), target);
        if inc {
            image.put_file(&p("inc/1"), INC);
        }
        image
    }

    fn invariants(recovered_image: &Image, acks: &[(usize, JournalAck)]) -> Vec<String> {
        check(&setup(), recovered_image, acks, &p(".crashsafe/journal"))
            .into_iter()
            .map(|v| v.invariant)
            .collect()
    }

    #[test]
    fn an_uncertain_transaction_may_show_either_way() {
        let acks = [begin(0, vec![planned(OLD, NEW, "inc/1")], false)];
        assert!(invariants(&after(OLD, false), &acks).is_empty());
        assert!(invariants(&after(NEW, true), &acks).is_empty());
        assert_eq!(invariants(&after(NEW, false), &acks), ["history"]);
    }

    #[test]
    fn a_transaction_recovery_settled_forward_must_stay_done() {
        let acks = [
            begin(0, vec![planned(OLD, NEW, "inc/1")], false),
            recovered(0, &[NEW]),
        ];
        assert!(invariants(&after(NEW, true), &acks).is_empty());
        // The scenario: the target back to old, the increment present.
        assert_eq!(invariants(&after(OLD, true), &acks), ["durable"]);
        assert_eq!(invariants(&after(NEW, false), &acks), ["history"]);
    }

    #[test]
    fn a_transaction_recovery_settled_back_must_stay_undone() {
        let acks = [
            begin(0, vec![planned(OLD, NEW, "inc/1")], false),
            recovered(0, &[OLD]),
        ];
        assert!(invariants(&after(OLD, false), &acks).is_empty());
        assert_eq!(invariants(&after(NEW, false), &acks), ["durable"]);
        assert_eq!(invariants(&after(OLD, true), &acks), ["history"]);
    }

    #[test]
    fn a_recovery_that_leaves_a_torn_target_or_a_half_batch_is_caught_in_the_live_view() {
        let acks = [
            begin(0, vec![planned(OLD, NEW, "inc/1")], false),
            recovered(0, &[b"torn"]),
        ];
        assert!(invariants(&after(OLD, false), &acks).contains(&"atomic".to_string()));

        let mut second = planned(OLD, NEW, "inc/2");
        second.target = p("u");
        let acks = [
            begin(0, vec![planned(OLD, NEW, "inc/1"), second], true),
            recovered(0, &[NEW, OLD]),
        ];
        let mut image = after(NEW, true);
        image.put_file(&p("u"), OLD);
        assert_eq!(invariants(&image, &acks), ["batch-atomic"]);
    }

    #[test]
    fn a_transaction_after_a_settled_one_is_judged_on_its_own() {
        const NEWER: &[u8] = b"newer content";
        let acks = [
            begin(0, vec![planned(OLD, NEW, "inc/1")], false),
            recovered(0, &[OLD]),
            begin(1, vec![planned(OLD, NEWER, "inc/2")], false),
            (0, JournalAck::Committed { txn: 1 }),
        ];
        let mut image = after(NEWER, false);
        image.put_file(&p("inc/2"), INC);
        assert!(invariants(&image, &acks).is_empty());
        let mut lost = after(OLD, false);
        lost.put_file(&p("inc/2"), INC);
        assert_eq!(invariants(&lost, &acks), ["durable"]);
    }
}
