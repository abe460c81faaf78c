//! The crash-consistency harness: a simulated filesystem that records every operation, the
//! persistence models that say what a crash may leave on disk, and a generic explorer that, for a
//! workload, checks recovery in every crash state a model allows.
//!
//! - [`image`]: [`Image`], a cheap-to-clone snapshot of a filesystem tree;
//! - [`fs`]: [`SimFs`], the in-memory [`crate::fs::Fs`] that records a [`TraceOp`] per mutating
//!   call and can inject I/O errors ([`Fault`]);
//! - [`model`]: the persistence models ([`Prefix`], [`Ext4Ordered`], [`Posix`]);
//! - [`states`]: the crash states a model allows at each crash point, built from a checkpoint;
//! - [`factor`]: a subject's independent factors, checked instead of their product;
//! - [`mod@explore`]: the generic explorer ([`explore()`], [`replay()`]) over any [`Subject`];
//! - [`token`]: replay tokens, one printable string naming one checked crash state;
//! - [`rng`]: [`rng::SplitMix64`], the seeded generator behind the random samples.

mod cover;
mod describe;
mod engine;
pub mod explore;
pub mod factor;
pub mod fs;
pub mod image;
pub mod model;
mod process;
mod replay;
pub mod rng;
pub mod states;
pub mod token;
pub mod trace;
mod unbuilt;

pub use explore::{
    explore, replay, AckLog, CheckContext, Counterexample, CrashKind, ExploreConfig, ExploreReport,
    InvariantFindings, KindCounts, Progress, Subject, UnreadFilesFn, UsedBounds, Violation,
};
pub use factor::{Factoring, PathSet};
pub use fs::{CallRecord, Fault, FaultKind, SimDirLock, SimFile, SimFs};
pub use image::{DirView, Image, Node};
pub use model::{
    all_models, model_by_name, Ext4Ordered, Model, OpContext, PendingOp, Posix, Prefix, Resolution,
    Variant,
};
pub use states::{states_at, Bounds, CrashPoint, CrashWalk};
pub use token::{parse_token, ReplayToken};
pub use trace::{Ino, SyncCall, TraceOp};
