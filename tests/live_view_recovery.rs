//! Recovery on a live view, then a power loss: the scenario of a poisoned journal that is
//! reopened and recovered in the same boot, written as a user would, against the public `sim`
//! API (not through the explorer).
//!
//! The story: a commit with an increment fails at the publish step (the fsync of the target's
//! directory returns EIO). Under the `posix` and `ext4-ordered` models that failure drops the
//! rename of the temp file over the target for good, although the live view (the page cache)
//! still shows the target new. The README tells the user to reopen the journal and recover.
//! crashsafe's first recovery saw the new target, judged the update done, kept the increment,
//! removed the intent and fsynced the journal directory: a power loss after that left the target
//! old beside its increment, with no entry left to fix it (`history` broken). Recovery now makes
//! what it saw durable itself (it rewrites the target through a scratch file); the old behaviour
//! lives on as the known-bad protocol `recovery-trusts-live-view`, which this test must catch.

use crashsafe::check::known_bad::KnownBad;
use crashsafe::fs::Op;
use crashsafe::journal::{
    Journal, JournalOptions, Source, Standard, Steps, Update, DEFAULT_JOURNAL_DIR,
};
use crashsafe::path::RelPath;
use crashsafe::sim::{all_models, states_at, Bounds, Fault, FaultKind, Image, Model, Node, SimFs};

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

const OLD: &[u8] = b"old content\n";
const NEW: &[u8] = b"new content\n";
const INCREMENT: &[u8] = b"reverse diff\n";

fn setup() -> Image {
    let mut image = Image::new();
    image.put_file(&p("a/x.txt"), OLD);
    image.put_dir(&p("inc"));
    image.put_dir(&p(".crashsafe/journal"));
    image
}

/// Opens the journal on `fs`, carrying out its steps as `steps` says.
fn open<S: Steps>(fs: &SimFs, steps: S) -> Journal<&SimFs, S> {
    let dir = p(DEFAULT_JOURNAL_DIR);
    Journal::open_with_steps(
        fs,
        dir,
        JournalOptions::default(),
        Default::default(),
        steps,
    )
    .unwrap()
}

/// Commits the update on `fs` (with `fault` armed) and returns whether it was acknowledged.
fn commit<S: Steps>(fs: &SimFs, steps: S, fault: Option<Fault>) -> bool {
    let mut journal = open(fs, steps);
    fs.set_fault(fault);
    let update = Update::write(p("a/x.txt"), NEW)
        .with_increment(p("inc/x.1"), Source::Bytes(INCREMENT.to_vec()));
    let acked = journal.commit(update).is_ok();
    fs.set_fault(None);
    acked
}

/// The mutating call that publishes the switch: the first directory fsync after the rename.
fn publish_call() -> usize {
    let fs = SimFs::from_image(&setup());
    assert!(commit(&fs, Standard, None));
    let calls = fs.calls();
    let rename = calls.iter().position(|c| c.op == Op::Rename).unwrap();
    rename
        + 1
        + calls[rename + 1..]
            .iter()
            .position(|c| c.op == Op::FsyncDir)
            .unwrap()
}

/// What a state must look like once recovered: the target old without its increment, or new
/// with it; nothing else left behind.
fn consistent(image: &Image) -> Result<(), String> {
    let file = |path: &str| match image.get(&p(path)) {
        Some(Node::File(data)) => Some(data.to_vec()),
        Some(other) => Some(format!("{other:?}").into_bytes()),
        None => None,
    };
    match (file("a/x.txt").as_deref(), file("inc/x.1").as_deref()) {
        (Some(OLD), None) | (Some(NEW), Some(INCREMENT)) => {}
        (target, increment) => {
            return Err(format!(
                "history: target {:?} with increment {:?}",
                target.map(String::from_utf8_lossy),
                increment.map(String::from_utf8_lossy)
            ))
        }
    }
    let leftovers: Vec<String> = image
        .walk()
        .keys()
        .map(|k| k.to_string())
        .filter(|k| k.starts_with("a/.crashsafe") || k.starts_with(".crashsafe/journal/"))
        .filter(|k| !is_kept_journal_file(k))
        .collect();
    if leftovers.is_empty() {
        Ok(())
    } else {
        Err(format!("clean: {leftovers:?} left behind"))
    }
}

/// Runs the scenario with `steps` ([`Standard`]: the real recovery) under `model`, and returns the
/// first broken expectation among every power-loss state from the start of the same-boot
/// recovery on, each recovered again after the reboot.
fn scenario<S: Steps + Copy>(model: &dyn Model, steps: S) -> Result<usize, String> {
    let fs = SimFs::from_image(&setup());
    let fault = Fault {
        at: publish_call(),
        kind: FaultKind::Eio,
    };
    assert!(!commit(&fs, steps, Some(fault)), "the publish fsync fails");
    let reopened_at = fs.op_count();
    // The README's advice after `Poisoned`: reopen the journal and recover, in the same boot.
    let mut journal = open(&fs, steps);
    journal
        .recover()
        .map_err(|e| format!("recovery failed: {e}"))?;
    drop(journal);
    let trace = fs.trace();
    let bounds = Bounds::default();
    let mut checked = 0;
    for cp in reopened_at..=trace.len() {
        for state in states_at(model, &setup(), &trace, cp, &bounds, 4096) {
            let after = SimFs::from_image(&state);
            let mut journal = open(&after, Standard);
            journal
                .recover()
                .map_err(|e| format!("reboot recovery failed: {e}"))?;
            drop(journal);
            consistent(&after.image())
                .map_err(|e| format!("{} at crash point {cp}: {e}", model.name()))?;
            checked += 1;
        }
    }
    Ok(checked)
}

#[test]
fn a_poisoned_journal_reopened_and_recovered_survives_a_power_loss_under_every_model() {
    for model in all_models() {
        let checked = scenario(model.as_ref(), Standard).unwrap_or_else(|e| panic!("{e}"));
        assert!(checked > 0, "{}: no state checked", model.name());
    }
}

#[test]
fn recovery_that_trusts_the_live_view_loses_the_history_under_posix_and_ext4() {
    for name in ["posix", "ext4-ordered"] {
        let model = crashsafe::sim::model_by_name(name).unwrap();
        let err = scenario(model.as_ref(), KnownBad::RecoveryTrustsLiveView)
            .expect_err("the old recovery must be caught");
        assert!(err.contains("history"), "{name}: {err}");
    }
    // Under `prefix` nothing is ever dropped: the old recovery was right there.
    let prefix = crashsafe::sim::model_by_name("prefix").unwrap();
    scenario(prefix.as_ref(), KnownBad::RecoveryTrustsLiveView).unwrap();
}

/// Whether a path names a journal floor or registry file, which the journal keeps on purpose
/// (see `src/journal/recover.rs`, "The floor", and `src/journal/registry.rs`).
fn is_kept_journal_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        crashsafe::journal::recover::parse_name(name),
        Some((
            _,
            crashsafe::journal::recover::EntryFile::Floor
                | crashsafe::journal::recover::EntryFile::Dirs
        ))
    )
}
