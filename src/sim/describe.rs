//! The text of a counterexample: the operations numbered and marked, the fault, the
//! crash-during-recovery path, the broken invariant, and the replay line.

use super::explore::Violation;
use super::fs::{CallRecord, Fault, FaultKind};
use super::image::blocks_touched;
use super::model::{Model, Variant};
use super::states::CrashPoint;
use super::trace::TraceOp;

/// Up to this many operations are listed one by one; past it, the durable prefix is folded.
const LIST_ALL: usize = 64;

pub(crate) fn header(
    lines: &mut Vec<String>,
    subject: String,
    model: &dyn Model,
    fault: Option<Fault>,
    calls: &[CallRecord],
) {
    lines.push(format!(
        "subject {subject}, model {} ({})",
        model.name(),
        model.summary()
    ));
    match fault {
        None => lines.push("fault: none".into()),
        Some(f) => {
            let kind = match f.kind {
                FaultKind::Eio => "EIO",
                FaultKind::NoSpace => "ENOSPC",
            };
            let call = calls.get(f.at).map_or("?", |c| c.op.name());
            lines.push(format!(
                "fault: {kind} injected into mutating call #{} ({call})",
                f.at
            ));
        }
    }
}

fn variant_mark(op: &TraceOp, variant: &Variant, block_size: usize) -> String {
    match variant {
        Variant::Full => "persisted".into(),
        Variant::Lost => "LOST".into(),
        Variant::Zeros => "ZEROS (size extended, data lost)".into(),
        Variant::Torn(blocks) => {
            let total = match op {
                TraceOp::Write { offset, len, .. } => {
                    blocks_touched(*offset, *len, block_size.max(1) as u64)
                }
                _ => 0,
            };
            let list: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
            format!("TORN (blocks {} of {total} persisted)", list.join(","))
        }
    }
}

/// The line for a process crash at `cp` of a trace of `before` operations, after which recovery
/// on the live view issued the operations up to `after`.
pub(crate) fn process_crash(
    lines: &mut Vec<String>,
    nth: usize,
    cp: usize,
    before: usize,
    after: usize,
) {
    let whose = if nth == 0 {
        "the workload's process".to_string()
    } else {
        format!("the process running recovery #{nth}")
    };
    lines.push(format!(
        "process crash: {whose} died at crash point {cp} of {before} (after {cp} operations), \
         the machine kept running; recovery ran on the live view (page cache) and issued \
         operations #{cp}..#{}",
        after.saturating_sub(1)
    ));
}

/// One level of a crash state, as [`level`] describes it.
pub(crate) struct LevelState<'a, 'p> {
    /// 0 for the workload's run, n for the n-th recovery nested inside it.
    pub level: usize,
    /// The crash point.
    pub point: &'a CrashPoint<'p>,
    /// The variant chosen for each of its pending operations.
    pub choice: &'a [u16],
    /// The state's index among the crash point's states.
    pub index: usize,
    /// At level 0 of a process crash, the crash point where the last process died (operations
    /// from there on are recovery's).
    pub died_at: Option<usize>,
}

/// The numbered operations of one level of a crash state.
pub(crate) fn level(
    lines: &mut Vec<String>,
    trace: &[TraceOp],
    state: LevelState<'_, '_>,
    block_size: usize,
) {
    let point = state.point;
    let cp = point.cp;
    let what = match (state.level, state.died_at) {
        (0, None) => "workload".to_string(),
        (0, Some(_)) => "then power was lost: the workload and recovery".to_string(),
        _ => format!("recovery #{}, run on the state above,", state.level),
    };
    lines.push(format!(
        "{what} crashed at crash point {cp} of {} (after {cp} operations), state {}:",
        trace.len(),
        state.index
    ));
    let durable = point.durable_prefix();
    let folded = if cp > LIST_ALL { durable } else { 0 };
    if folded > 0 {
        lines.push(format!(
            "  #0..#{}: resolved by barriers (durable)",
            folded - 1
        ));
    }
    let mut next = 0;
    for (j, op) in trace.iter().enumerate().take(cp).skip(folded) {
        let mark = if next < point.pending.len() && point.pending[next].index == j {
            let p = &point.pending[next];
            next += 1;
            variant_mark(op, &p.variants[state.choice[next - 1] as usize], block_size)
        } else if op.is_fsync_family() {
            "issued".into()
        } else if point.resolution(j).kept {
            "durable".into()
        } else if point.resolution(j).unseen {
            "unseen (its file's only name is durably gone)".into()
        } else {
            "LOST (dropped by a failed sync)".into()
        };
        let mark = match state.died_at {
            Some(d) if j >= d => format!("{mark} [recovery]"),
            Some(d) if op.changes_image() && !point.resolution(j).resolved_at(d) => {
                let durable = point.resolution(j).resolved_at(cp) && point.resolution(j).kept;
                let by = if durable {
                    ", made durable by recovery"
                } else {
                    ""
                };
                format!("{mark} [pending when the process died{by}]")
            }
            _ => mark,
        };
        lines.push(format!("  #{j:<4} {:<48} {mark}", op.to_string()));
    }
    if cp < trace.len() {
        lines.push(format!("  (crash before #{cp} {})", trace[cp]));
    }
}

pub(crate) fn finish(mut lines: Vec<String>, violation: &Violation, token: &str) -> String {
    lines.push(format!(
        "broken invariant: {}: {}",
        violation.invariant, violation.message
    ));
    lines.push(format!("crashsafe check --replay {token}"));
    lines.join("\n")
}
