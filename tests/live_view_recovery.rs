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

/// The atomic batch of the commit-record scenario: two targets, both `OLD` in the setup.
fn batch() -> Vec<Update> {
    ["a/x.txt", "a/y.txt"]
        .iter()
        .map(|t| Update::write(p(t), NEW))
        .collect()
}

/// Regression: recovery used to roll an atomic batch forward on a commit record that only the
/// live view held. Here the commit point's fsync of the record fails (EIO drops its data for
/// good), the journal is reopened and recovered in the same boot, and recovery renamed the
/// temps over their targets at once: a power loss then left a target switched with no record
/// on the disk, a state whose fate the next recovery could only read from the targets. Recovery
/// now rewrites the record (a copy fsynced and renamed over it, the journal directory fsynced)
/// before any target changes. In every power-loss state from the reopening on, under every
/// model, a batch switched halfway has its record beside its intent (without it, both targets
/// are old, or both new once recovery retired the entry and only the intent's unlink was
/// lost), and a second recovery leaves both targets old or both new, with nothing behind.
#[test]
fn a_batch_rolled_forward_on_a_record_only_the_live_view_held_switches_no_target_before_it_is_durable(
) {
    let mut setup = setup();
    setup.put_file(&p("a/y.txt"), OLD);
    let record_fsync = {
        let fs = SimFs::from_image(&setup);
        open(&fs, Standard).commit_batch(batch(), true).unwrap();
        let calls = fs.calls();
        let rename = calls.iter().position(|c| c.op == Op::Rename).unwrap();
        calls[..rename]
            .iter()
            .rposition(|c| c.op == Op::Fsync)
            .unwrap()
    };
    for model in all_models() {
        let fs = SimFs::from_image(&setup);
        let mut journal = open(&fs, Standard);
        fs.set_fault(Some(Fault {
            at: record_fsync,
            kind: FaultKind::Eio,
        }));
        assert!(journal.commit_batch(batch(), true).is_err());
        fs.set_fault(None);
        drop(journal);
        let reopened_at = fs.op_count();
        let report = open(&fs, Standard).recover().unwrap();
        assert!(report.outcomes.iter().all(|o| o.done && o.rolled_forward));
        let trace = fs.trace();
        let mut halfway = 0;
        for cp in reopened_at..=trace.len() {
            for state in states_at(model.as_ref(), &setup, &trace, cp, &Bounds::default(), 4096) {
                let at = format!("{} at crash point {cp}", model.name());
                halfway += usize::from(batch_state_holds(&state, &at));
            }
        }
        assert!(halfway > 0, "{}: no batch switched halfway", model.name());
    }
}

/// Checks one power-loss state of the commit-record scenario: a batch switched halfway with
/// its intent has its record; recovered again, both targets are old or both new, with no temp
/// or copy of a record left. Returns whether the batch was switched halfway.
fn batch_state_holds(state: &Image, at: &str) -> bool {
    let journal_dir = p(DEFAULT_JOURNAL_DIR);
    let has = |ext: &str| {
        let names = state.walk();
        names
            .keys()
            .any(|k| k.parent().as_ref() == Some(&journal_dir) && k.as_str().ends_with(ext))
    };
    let new = |t: &&&str| matches!(state.get(&p(t)), Some(Node::File(d)) if d.as_slice() == NEW);
    let halfway = ["a/x.txt", "a/y.txt"].iter().filter(new).count() == 1 && has(".intent");
    assert!(
        !halfway || has(".commit"),
        "{at}: one target switched, no record"
    );
    let after = SimFs::from_image(state);
    open(&after, Standard).recover().unwrap();
    let image = after.image();
    let x = image.get(&p("a/x.txt"));
    assert_eq!(x, image.get(&p("a/y.txt")), "{at}: batch-atomic");
    let leftovers: Vec<_> = image
        .walk()
        .into_keys()
        .filter(|k| k.as_str().contains(".crashsafe-") || k.as_str().ends_with(".commit.rec"))
        .collect();
    assert!(leftovers.is_empty(), "{at}: {leftovers:?}");
    halfway
}
