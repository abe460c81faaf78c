//! The prefix model: everything issued before the crash, in order.

use super::{Model, OpContext, Resolution, Variant};
use crate::sim::trace::TraceOp;

/// The disk holds exactly the operations issued before the crash point, in order: one state per
/// crash point. What a process crash with an intact page cache gives, or a filesystem that
/// persists every operation synchronously and in order (ALICE's "sequential" ideal). It hides any
/// missing fsync; it is the baseline against which the weaker models find bugs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prefix;

impl Model for Prefix {
    fn name(&self) -> &'static str {
        "prefix"
    }
    fn summary(&self) -> &'static str {
        "every operation issued before the crash is on disk, in order (process crash)"
    }
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution> {
        (0..trace.len())
            .map(|j| Resolution::durable(j + 1))
            .collect()
    }
    fn variants(&self, _: &TraceOp, _: &OpContext) -> Vec<Variant> {
        vec![Variant::Full]
    }
    /// One variant per operation, no ordering rule.
    fn independent_ops(&self) -> bool {
        true
    }
}
