//! `inspect`: what recovery would do with the journal directory, without doing any of it.

use super::*;

/// What the journal directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Entries recovery would act on.
    pub pending: Vec<PendingEntry>,
    /// Commit records whose intent is gone (recovery removes them).
    pub orphan_commits: Vec<String>,
    /// Copies of commit records that a recovery which stopped left while making a record
    /// durable (recovery removes them).
    pub record_scratches: Vec<String>,
    /// Stale entries, numbered below the journal's floor (recovery removes them without acting).
    pub stale: Vec<String>,
    /// Torn entries recovery would discard.
    pub torn: Vec<(String, DecodeError)>,
    /// Entries recovery would refuse.
    pub refused: Vec<(String, Refusal)>,
    /// Temp and scratch files in the registered directories that no entry names (recovery's
    /// sweep removes them; see `src/journal/recover.rs`, "Orphans").
    pub orphans: Vec<RelPath>,
}

/// Describes the pending entries and the orphans without changing anything. A registered
/// directory recovery could not look in safely is the error recovery would stop at.
pub fn inspect<F: Fs>(fs: &F, dir: &RelPath) -> Result<Inspection, JournalError> {
    let loaded = load(fs, dir)?;
    let registered = registry::existing_dirs(fs, &loaded.registry, dir)?;
    let mut inspection = Inspection {
        orphans: orphans_in(fs, &registered, &loaded.kept)?,
        torn: loaded.torn,
        stale: loaded.stale,
        refused: loaded.refused,
        record_scratches: loaded.record_scratches.into_values().collect(),
        ..Inspection::default()
    };
    for (seq, name) in &loaded.commits {
        if !loaded.intents.contains_key(seq) {
            inspection.orphan_commits.push(name.clone());
        }
    }
    for (seq, (name, decoded)) in loaded.intents {
        match observe(fs, dir, &decoded) {
            Ok(seen) => {
                let entry = &decoded.entry;
                let updates = entry
                    .updates
                    .iter()
                    .zip(&seen)
                    .map(|(u, s)| PendingUpdate {
                        target: TargetHolds::of(u, s.target),
                        happened: judge(fs, u, s),
                        temp_exists: s.temp_exists,
                        increment_exists: s.increment_exists,
                    })
                    .collect();
                inspection.pending.push(PendingEntry {
                    name,
                    entry: entry.clone(),
                    committed_record: loaded.commits.contains_key(&seq),
                    updates,
                });
            }
            Err(ObserveError::Refused(r)) => inspection.refused.push((name, r)),
            Err(ObserveError::Other(e)) => return Err(e),
        }
    }
    Ok(inspection)
}
