//! The seam between the journal's protocol and the order of its steps.
//!
//! A commit goes through the named steps of [`Transaction`] (intent, data, commit point, switch,
//! publish, clean) and a recovery through those of [`super::recover`] (observe, plan, act,
//! sweep, retire). [`Journal`](super::Journal) and [`recover_with`](super::recover::recover_with) call
//! the steps that can vary through a [`Steps`] value; every method of the trait has the
//! journal's own step as its default, and [`Standard`] overrides none of them. Production code
//! never asks which protocol it runs: it calls the step.
//!
//! The seam exists for the harness's self-test (`crashsafe check --self-test`), which proves the
//! harness catches real mistakes by running protocols that swap or skip one step; those live
//! outside the journal, in `src/check/known_bad.rs`. It is public because the harness is part of
//! the library (a user's own harness may want a known-bad journal too), and narrow: a step can be
//! replaced by one built from the same primitives ([`Transaction`]'s and [`Recovery`]'s public
//! methods), never by reaching into the journal's state.

use super::commit::{Barrier, Transaction, UpdateIndex};
use super::recover::{self, Action, Durability, Observed, Recovery, Refusal};
use super::JournalError;
use crate::format::{Entry, UpdateRecord};
use crate::fs::Fs;
use crate::path::RelPath;

/// How the journal carries out the steps that can vary. Each method's default is the journal's
/// own step; see the module doc.
pub trait Steps {
    /// Commit, step 1: the intent entry (and a session's first floor) is written and made
    /// durable, file and journal directory, before anything else changes; or, for a joined
    /// transaction, written only (see [`Transaction::intent`]).
    fn intent<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        t.intent()
    }

    /// Commit, step 2, for each update's temp file once its new content is written: the file
    /// joins the data step's barrier.
    fn temp_written<F: Fs>(
        &self,
        t: &mut Transaction<'_, F>,
        index: UpdateIndex,
        file: F::File,
        barrier: &mut Barrier<F::File>,
    ) -> Result<(), JournalError> {
        let _ = (t, index);
        barrier.file(file);
        Ok(())
    }

    /// Commit, step 2, for update `index`'s increment once written (under its temp name, if the
    /// transaction stages its increments): the file joins the data step's barrier.
    fn increment_written<F: Fs>(
        &self,
        t: &mut Transaction<'_, F>,
        index: UpdateIndex,
        file: F::File,
        barrier: &mut Barrier<F::File>,
    ) -> Result<(), JournalError> {
        let _ = (t, index);
        barrier.file(file);
        Ok(())
    }

    /// Commit, step 4: each staged increment renamed into place, each temp renamed over its
    /// target, each deleted target unlinked.
    fn switch<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        t.switch()
    }

    /// Commit, step 5: the targets' directories made durable; the commit is acknowledged after.
    fn publish<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        t.publish()
    }

    /// Commit, step 6: the entry files removed, and the floors older than the session's.
    fn clean<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        t.clean()
    }

    /// Recovery's plan, for an update judged on its own: whether it happened
    /// ([`recover::judge`]: the target's content, by [`recover::update_happened`]).
    fn judge<F: Fs>(&self, fs: &F, update: &UpdateRecord, seen: &Observed) -> bool {
        recover::judge(fs, update, seen)
    }

    /// Recovery's plan, for an atomic batch: whether it rolls forward
    /// ([`recover::rolls_forward`]: its commit record exists or a target changed).
    fn rolls_forward(&self, entry: &Entry, seen: &[Observed], commit_record: bool) -> bool {
        recover::rolls_forward(entry, seen, commit_record)
    }

    /// Recovery's plan, rolling an atomic batch forward: whether the existing temp file `temp`
    /// holds the update's new content ([`recover::temp_holds_new`]).
    fn temp_holds_new<F: Fs>(&self, fs: &F, update: &UpdateRecord, temp: &RelPath) -> bool {
        recover::temp_holds_new(fs, update, temp)
    }

    /// Recovery's plan: the action that makes durable what a verdict relies on
    /// ([`Durability::action`]); `None` leaves it as the live view shows it.
    fn secure(&self, need: Durability<'_>) -> Result<Option<Action>, Refusal> {
        need.action().map(Some)
    }

    /// Recovery's act, for one entry: its actions carried out, then the entry marked for
    /// retirement ([`Recovery::act_entry`]).
    fn act<F: Fs>(
        &self,
        r: &mut Recovery<'_, F>,
        entry: &str,
        actions: Vec<Action>,
    ) -> Result<(), JournalError> {
        r.act_entry(entry, actions)
    }

    /// Recovery's sweep: the orphan temp and scratch files in the registered directories
    /// removed ([`Recovery::sweep`]).
    fn sweep<F: Fs>(&self, r: &mut Recovery<'_, F>) -> Result<(), JournalError> {
        r.sweep()
    }

    /// Recovery's retire: the directories touched made durable, then the entries removed
    /// ([`Recovery::retire`]).
    fn retire<F: Fs>(&self, r: &mut Recovery<'_, F>) -> Result<(), JournalError> {
        r.retire()
    }
}

/// The journal's protocol, every step its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standard;

impl Steps for Standard {}
