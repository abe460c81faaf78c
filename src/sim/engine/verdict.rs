//! The verdict on one crash state: recovery run on it (a panic or an error is a
//! `recovery-error`), run again on what it left (`idempotent`), and the subject's check, with
//! the verdicts memoized by recovered image where the subject allows it ([`Verdicts`]).

use super::super::explore::{CheckContext, Subject, Violation};
use super::super::fs::SimFs;
use super::super::image::Image;
use super::super::trace::TraceOp;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

/// The message a caught panic carried.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic)".to_string()
    }
}

/// The first path whose content differs between two images.
fn first_difference(a: &Image, b: &Image) -> String {
    let (wa, wb) = (a.walk(), b.walk());
    let paths: BTreeSet<_> = wa.keys().chain(wb.keys()).collect();
    for p in paths {
        match (wa.get(p), wb.get(p)) {
            (x, y) if x == y => continue,
            (None, Some(_)) => return format!("{p} appeared"),
            (Some(_), None) => return format!("{p} disappeared"),
            _ => return format!("{p} changed"),
        }
    }
    "the images differ".to_string()
}

/// Recovers `crashed`, checks idempotence and the subject's invariants. Returns the violations
/// and, if recovery succeeded, its trace.
pub(crate) fn check_state<S: Subject>(
    subject: &S,
    setup: &Image,
    crashed: &Image,
    acks: &[(usize, S::Ack)],
    crash_point: usize,
) -> (Vec<Violation>, Option<Vec<TraceOp>>) {
    check_state_with(subject, setup, crashed, acks, crash_point, None)
}

/// The verdicts given so far, by (recovered image's fingerprint, acks visible): idempotence and
/// the subject's invariants, for a subject whose check does not read the crashed state
/// ([`Subject::check_reads_crashed`]). Recovery is deterministic on the visible tree (the
/// premise of deduplicating states by fingerprint), so recovering a recovered image again does
/// the same thing whichever crash state it came from; and such a check is a function of
/// (setup, recovered, acks). So every crash state that recovers to the same image, with the same
/// acks, gets the same verdict, and it is computed once. Threads may race to compute one
/// verdict; they compute the same one, so results do not depend on the thread count.
#[derive(Default)]
pub(crate) struct Verdicts(Mutex<BTreeMap<(u128, usize), Vec<Violation>>>);

impl Verdicts {
    fn get(&self, key: (u128, usize)) -> Option<Vec<Violation>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&key).cloned()
    }

    fn insert(&self, key: (u128, usize), verdict: Vec<Violation>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(key, verdict);
    }
}

/// [`check_state`], reusing and recording verdicts in `verdicts` where the subject allows it.
pub(super) fn check_state_with<S: Subject>(
    subject: &S,
    setup: &Image,
    crashed: &Image,
    acks: &[(usize, S::Ack)],
    crash_point: usize,
    verdicts: Option<&Verdicts>,
) -> (Vec<Violation>, Option<Vec<TraceOp>>) {
    let fs = SimFs::from_image(crashed);
    match catch_unwind(AssertUnwindSafe(|| subject.recover(&fs))) {
        Err(p) => {
            let msg = format!("recovery panicked: {}", panic_message(p));
            return (vec![Violation::new("recovery-error", msg)], None);
        }
        Ok(Err(e)) => return (vec![Violation::new("recovery-error", e)], None),
        Ok(Ok(())) => {}
    }
    let (recovered, trace) = fs.into_parts();
    let judge = || judge(subject, setup, crashed, &recovered, acks, crash_point);
    let violations = match verdicts.filter(|_| !subject.check_reads_crashed()) {
        None => judge(),
        Some(memo) => {
            let key = (recovered.fingerprint(), acks.len());
            match memo.get(key) {
                Some(verdict) => verdict,
                None => {
                    let verdict = judge();
                    memo.insert(key, verdict.clone());
                    verdict
                }
            }
        }
    };
    (violations, Some(trace))
}

/// Checks a recovered state: recovery run again changes nothing, and the subject's invariants.
fn judge<S: Subject>(
    subject: &S,
    setup: &Image,
    crashed: &Image,
    recovered: &Image,
    acks: &[(usize, S::Ack)],
    crash_point: usize,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let again = SimFs::from_image(recovered);
    match catch_unwind(AssertUnwindSafe(|| subject.recover(&again))) {
        Err(p) => violations.push(Violation::new(
            "idempotent",
            format!("recovery run again panicked: {}", panic_message(p)),
        )),
        Ok(Err(e)) => violations.push(Violation::new(
            "idempotent",
            format!("recovery run again failed: {e}"),
        )),
        Ok(Ok(())) => {
            if again.op_count() > 0 {
                let twice = again.image();
                if twice.fingerprint() != recovered.fingerprint() {
                    let what = first_difference(recovered, &twice);
                    violations.push(Violation::new(
                        "idempotent",
                        format!("recovery run again changed the tree: {what}"),
                    ));
                }
            }
        }
    }
    let ctx = CheckContext {
        setup,
        crashed,
        recovered,
        acks,
        crash_point,
    };
    match catch_unwind(AssertUnwindSafe(|| subject.check(&ctx))) {
        Err(p) => violations.push(Violation::new(
            "check-panic",
            format!("the checker panicked: {}", panic_message(p)),
        )),
        Ok(found) => violations.extend(found),
    }
    violations
}
