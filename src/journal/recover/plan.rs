//! Recovery's **plan** step: for one entry, the verdict on each update (judged on its own, or
//! the atomic batch's roll-forward or back) and the actions that carry it out and make durable
//! what the verdict relies on (see the parent module's doc).

use super::{holds_content, switched, Action, Durability, Observed, Refusal, UpdateOutcome};
use crate::format::{Content, Entry, EntryKind, UpdateRecord};
use crate::fs::Fs;
use crate::journal::steps::Steps;
use crate::path::RelPath;

/// What recovery's plan does for one entry: the actions, in order, and what they do to each
/// update.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) actions: Vec<Action>,
    pub(super) outcomes: Vec<UpdateOutcome>,
}

/// Recovery's **plan** step for one entry: the verdict on each update (judged on its own, or
/// the batch's roll-forward or back) and the actions that carry it out and make it durable.
pub(super) fn plan<F: Fs, S: Steps>(
    fs: &F,
    steps: &S,
    entry: &Entry,
    seen: &[Observed],
    commit_record: Option<&RelPath>,
) -> Result<Plan, Refusal> {
    let mut actions = Vec::new();
    let mut outcomes = Vec::new();
    // An atomic batch none of whose targets can change (every new content equals the old) is
    // judged update by update: no target can show which side of the commit point it is on, and
    // the commit record may be gone before the intent.
    let atomic = matches!(entry.kind, EntryKind::Intent { atomic: true })
        && entry.updates.iter().any(|u| u.new != u.old);
    let forward = atomic && steps.rolls_forward(entry, seen, commit_record.is_some());
    // The record first: no target changes on the strength of a record the disk may not hold.
    if let (true, Some(record)) = (forward, commit_record) {
        actions.extend(steps.secure(Durability::CommitRecord(record))?);
    }
    for (index, (u, s)) in entry.updates.iter().zip(seen).enumerate() {
        let done = if !atomic {
            steps.judge(fs, u, s)
        } else {
            forward
        };
        let step = UpdateStep {
            seq: entry.seq,
            index,
            done,
            roll_forward: atomic && forward && s.target == u.old && u.new != u.old,
        };
        outcomes.push(step.plan(fs, steps, u, s, &mut actions)?);
    }
    Ok(Plan { actions, outcomes })
}

/// One update's verdict, and how recovery carries it out.
struct UpdateStep {
    seq: u64,
    index: usize,
    done: bool,
    roll_forward: bool,
}

impl UpdateStep {
    /// Appends the actions that carry out this update's verdict and make it durable (see the
    /// module doc), and says what they do.
    fn plan<F: Fs, S: Steps>(
        &self,
        fs: &F,
        steps: &S,
        u: &UpdateRecord,
        s: &Observed,
        actions: &mut Vec<Action>,
    ) -> Result<UpdateOutcome, Refusal> {
        let mut outcome = UpdateOutcome {
            seq: self.seq,
            target: u.target.clone(),
            done: self.done,
            rolled_forward: false,
            rewritten: false,
            removed: Vec::new(),
        };
        for leftover in &s.scratches {
            actions.push(Action::Remove(leftover.clone()));
            outcome.removed.push(leftover.clone());
        }
        let temp_handled = self.plan_target(fs, steps, u, s, actions, &mut outcome)?;
        if let (Some(temp), false) = (&u.temp, temp_handled) {
            make_absent(steps, temp, s.temp_exists, s.temp_dir_exists, actions)?;
            if s.temp_exists {
                outcome.removed.push(temp.clone());
            }
        }
        self.plan_increment(fs, steps, u, s, actions, &mut outcome)?;
        Ok(outcome)
    }

    /// The increment's actions: for an update not done, its name and its temp name (see
    /// [`Observed::increment_temp`]) made absent; for a done one, the rename into place
    /// finished if the live view shows it not done, or, if it shows the increment in place,
    /// the increment made durable when the verdict or the live view may be ahead of the disk
    /// (a staged increment's rename, or an increment that judged an update whose new content
    /// equals its old done); any temp name left is made absent.
    fn plan_increment<F: Fs, S: Steps>(
        &self,
        fs: &F,
        steps: &S,
        u: &UpdateRecord,
        s: &Observed,
        actions: &mut Vec<Action>,
        outcome: &mut UpdateOutcome,
    ) -> Result<(), Refusal> {
        let Some(inc) = &u.increment else {
            return Ok(());
        };
        let staged = s.increment_temp.as_ref();
        let mut staged_handled = false;
        if !self.done {
            make_absent(
                steps,
                &inc.path,
                s.increment_exists,
                s.increment_dir_exists,
                actions,
            )?;
            if s.increment_exists {
                outcome.removed.push(inc.path.clone());
            }
        } else if s.increment_exists && (u.new == u.old || staged.is_some()) {
            let need = Durability::Increment {
                seq: self.seq,
                index: self.index,
                path: &inc.path,
                temp: staged,
            };
            if let Some(action) = steps.secure(need)? {
                actions.push(action);
                staged_handled = staged.is_some();
            }
        } else if let (false, Some(temp), true) =
            (s.increment_exists, staged, s.increment_temp_exists)
        {
            // Done, and the increment's rename not (yet) shown: its temp is durable (the barrier
            // before the switch made it so), so the rename is finished.
            if holds_content(fs, &inc.content, temp) {
                actions.push(Action::Rename(temp.clone(), inc.path.clone()));
                staged_handled = true;
            }
        }
        if let (Some(temp), false) = (staged, staged_handled) {
            make_absent(
                steps,
                temp,
                s.increment_temp_exists,
                s.increment_dir_exists,
                actions,
            )?;
            if s.increment_temp_exists {
                outcome.removed.push(temp.clone());
            }
        }
        Ok(())
    }

    /// The target's actions: the roll-forward's rename (or unlink), or, for a done update
    /// whose switch the live view shows, what makes it durable. Returns whether they also take
    /// care of the temp name.
    fn plan_target<F: Fs, S: Steps>(
        &self,
        fs: &F,
        steps: &S,
        u: &UpdateRecord,
        s: &Observed,
        actions: &mut Vec<Action>,
        outcome: &mut UpdateOutcome,
    ) -> Result<bool, Refusal> {
        // A write whose target the live view shows gone: someone removed it after the switch
        // (the switch is a rename, which never leaves the name empty, and a dropped rename would
        // show the old content). Nothing of ours is there to make durable, and recreating it
        // would undo their deletion. The temp beside it is still made absent by the caller,
        // which makes their shared directory durable.
        let removed_since = u.new != Content::Absent && s.target == Content::Absent;
        if self.roll_forward {
            outcome.rolled_forward = true;
            let Some(temp) = &u.temp else {
                actions.push(Action::Remove(u.target.clone()));
                return Ok(false);
            };
            if !(s.temp_exists && steps.temp_holds_new(fs, u, temp)) {
                return Err(Refusal::TempMismatch(temp.clone()));
            }
            actions.push(Action::Rename(temp.clone(), u.target.clone()));
            return Ok(true);
        }
        if !(self.done && switched(u, s) && !removed_since) {
            return Ok(false);
        }
        // Done, and the live view shows the switch: make what it shows durable.
        let need = Durability::Switched {
            seq: self.seq,
            index: self.index,
            update: u,
            found: s.target,
        };
        let Some(action) = steps.secure(need)? else {
            return Ok(false);
        };
        actions.push(action);
        outcome.rewritten = true;
        if let (Some(temp), true) = (&u.temp, s.temp_exists) {
            outcome.removed.push(temp.clone());
        }
        Ok(u.temp.is_some())
    }
}

/// A name that must be gone: unlinked if the live view shows it; otherwise, if its directory
/// exists, that directory is still made durable ([`Durability::Absence`]), since an unlink by an
/// earlier recovery that died may not be durable yet.
fn make_absent<S: Steps>(
    steps: &S,
    name: &RelPath,
    exists: bool,
    dir_exists: bool,
    actions: &mut Vec<Action>,
) -> Result<(), Refusal> {
    if exists {
        actions.push(Action::Remove(name.clone()));
    } else if dir_exists {
        actions.extend(steps.secure(Durability::Absence(name))?);
    }
    Ok(())
}
