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

pub(crate) fn level(
    lines: &mut Vec<String>,
    level: usize,
    trace: &[TraceOp],
    point: &CrashPoint<'_>,
    choice: &[u16],
    index: usize,
    block_size: usize,
) {
    let cp = point.cp;
    let what = if level == 0 {
        "workload".to_string()
    } else {
        format!("recovery #{level}, run on the state above,")
    };
    lines.push(format!(
        "{what} crashed at crash point {cp} of {} (after {cp} operations), state {index}:",
        trace.len()
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
            variant_mark(op, &p.variants[choice[next - 1] as usize], block_size)
        } else if op.is_fsync_family() {
            "issued".into()
        } else if point.resolution(j).kept {
            "durable".into()
        } else {
            "LOST (dropped by a failed sync)".into()
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
