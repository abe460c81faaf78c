//! Persistence models: which subsets of the operations issued before a crash may be on disk.
//!
//! A model answers three questions, and adding a model is one new type implementing [`Model`]:
//!
//! 1. **Barrier coverage** ([`Model::resolve`]): for each operation of a trace, from which crash
//!    point on it is no longer pending (made durable by a barrier, or dropped for good by a
//!    failed one). Before that point the operation is *pending*.
//! 2. **Variants** ([`Model::variants`]): the ways one pending operation may reach the disk:
//!    wholly ([`Variant::Full`]), not at all ([`Variant::Lost`]), torn at block granularity
//!    ([`Variant::Torn`]) or, for an append, as zeros ([`Variant::Zeros`]).
//! 3. **Ordering** ([`Model::close`]): a choice of one variant per pending operation is adjusted
//!    to the model's ordering rules (for example ext4's "directory operations persist in order").
//!
//! The crash-state builder applies, in issue order, the durable operations and the chosen
//! variants of the pending ones; an operation whose precondition does not hold in the state being
//! rebuilt (a rename of a name whose create was lost) is a no-op.
//!
//! Sources: T. S. Pillai et al., "All File Systems Are Not Created Equal: On the Complexity of
//! Crafting Crash-Consistent Applications" (ALICE), OSDI'14, tables 2 and 3 (the persistence
//! properties of ext4 and of the abstract model); Linux `fsync(2)` (what fsync and fdatasync
//! promise); Rebello et al., "Can Applications Recover from fsync Failures?", ATC'20 (a failed
//! fsync drops the dirty data it was meant to flush).

use super::trace::TraceOp;

mod ext4;
mod posix;
mod prefix;
#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
mod unseen;

pub use ext4::Ext4Ordered;
pub use posix::{posix_resolutions, write_variants, Posix};
pub use prefix::Prefix;

/// How one pending operation reaches the disk in a crash state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Wholly, as issued.
    Full,
    /// Not at all.
    Lost,
    /// A write whose file size was extended but whose bytes never arrived (zeros).
    Zeros,
    /// A write of which only these blocks (numbered from 0, the first block the write touches)
    /// arrived.
    Torn(Vec<u32>),
}

impl Variant {
    /// Whether anything of the operation reached the disk.
    pub fn persists(&self) -> bool {
        !matches!(self, Variant::Lost)
    }
}

/// When an operation stops being pending: from crash point `at` on it is durable (`kept`) or
/// dropped for good (`!kept`). [`Resolution::PENDING`] never stops being pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// The first crash point at which the operation is resolved (`usize::MAX`: never).
    pub at: usize,
    /// Whether it is then on disk (durable) or dropped (lost in every later crash state).
    pub kept: bool,
    /// Whether it is dropped because no crash state could show it anyway (a write to a file
    /// whose only name is durably gone: `model/unseen.rs`), rather than by a failed sync.
    pub unseen: bool,
}

impl Resolution {
    /// Pending at every crash point.
    pub const PENDING: Resolution = Resolution {
        at: usize::MAX,
        kept: false,
        unseen: false,
    };

    /// Durable from crash point `at` on.
    pub fn durable(at: usize) -> Resolution {
        Resolution {
            at,
            kept: true,
            unseen: false,
        }
    }

    /// Dropped (never on disk) from crash point `at` on.
    pub fn dropped(at: usize) -> Resolution {
        Resolution {
            at,
            kept: false,
            unseen: false,
        }
    }

    /// Not applied from crash point `at` on because no crash state from then on can show it:
    /// every way it could reach the disk gives the same images (`model/unseen.rs`).
    pub fn unseen(at: usize) -> Resolution {
        Resolution {
            at,
            kept: false,
            unseen: true,
        }
    }

    /// Whether the operation is resolved at crash point `cp`.
    pub fn resolved_at(&self, cp: usize) -> bool {
        self.at <= cp
    }
}

/// What a model may need to know about a pending operation to list its variants.
#[derive(Debug, Clone, Copy)]
pub struct OpContext {
    /// The torn-write granularity, in bytes.
    pub block_size: u64,
    /// For a write: the least size its file may have in a crash state before the write reaches
    /// the disk — its size in the durable checkpoint, or a truncation's since (`None` if the
    /// file is not in the checkpoint or was created since: size 0).
    pub min_len: Option<u64>,
}

/// One pending operation at a crash point, with its variants.
#[derive(Debug, Clone)]
pub struct PendingOp<'t> {
    /// Its index in the trace.
    pub index: usize,
    /// The operation.
    pub op: &'t TraceOp,
    /// The variants the model allows (never empty; the first is [`Variant::Full`]).
    pub variants: Vec<Variant>,
}

impl PendingOp<'_> {
    /// The position of `variant` in [`PendingOp::variants`], if the model allows it.
    pub fn position(&self, variant: &Variant) -> Option<u16> {
        self.variants
            .iter()
            .position(|v| v == variant)
            .map(|i| i as u16)
    }

    /// Whether `choice` (a position in [`PendingOp::variants`]) persists anything.
    pub fn persists(&self, choice: u16) -> bool {
        self.variants[choice as usize].persists()
    }
}

/// A persistence model. See the module doc; implement this trait to add one.
pub trait Model: Send + Sync {
    /// The model's name, as the CLI and replay tokens spell it.
    fn name(&self) -> &'static str;

    /// One line: what the model is and where it comes from.
    fn summary(&self) -> &'static str;

    /// When each operation of `trace` stops being pending (one entry per operation). Operations
    /// that change nothing on disk (the fsync family) must be resolved right after themselves.
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution>;

    /// The ways a pending `op` may reach the disk; the first must be [`Variant::Full`].
    fn variants(&self, op: &TraceOp, cx: &OpContext) -> Vec<Variant>;

    /// Adjusts `choice` (one position in `pending[i].variants` per pending operation, in issue
    /// order) to the model's ordering rules. The default allows every combination.
    fn close(&self, pending: &[PendingOp<'_>], choice: &mut [u16]) {
        let _ = (pending, choice);
    }

    /// Whether the pending operations reach the disk independently of one another: every
    /// combination of variants is a crash state ([`Model::close`] changes nothing). Only then
    /// may the explorer check a subject's independent factors instead of their product
    /// ([`super::factor`]). The default, `false`, claims nothing.
    fn independent_ops(&self) -> bool {
        false
    }
}

/// Every built-in model: prefix, ext4-ordered, posix.
pub fn all_models() -> Vec<Box<dyn Model>> {
    vec![Box::new(Prefix), Box::new(Ext4Ordered), Box::new(Posix)]
}

/// The built-in model called `name` (`prefix`, `ext4-ordered`, `posix`).
pub fn model_by_name(name: &str) -> Option<Box<dyn Model>> {
    all_models().into_iter().find(|m| m.name() == name)
}
