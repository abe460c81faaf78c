//! The atomic-replace example, explored: the correct recipe is clean under every model, and each
//! broken recipe is caught where it should be (and hidden where the model is too kind).

#[allow(dead_code)]
#[path = "../examples/atomic_replace.rs"]
mod atomic_replace;

use atomic_replace::{AtomicReplace, Recipe};
use crashsafe::sim::{
    explore, model_by_name, parse_token, replay, ExploreConfig, ExploreReport, Posix, Subject,
};

fn run(recipe: Recipe, model: &str, inject_errors: bool) -> ExploreReport {
    let subject = AtomicReplace::new(recipe, 2, 2);
    let config = ExploreConfig {
        inject_errors,
        jobs: 2,
        ..ExploreConfig::default()
    };
    explore(&subject, model_by_name(model).unwrap().as_ref(), &config)
}

#[test]
fn the_correct_recipe_is_clean_under_every_model() {
    for model in ["prefix", "ext4-ordered", "posix"] {
        let report = run(Recipe::Correct, model, true);
        assert!(
            report.is_clean(),
            "{model}: {:#?}",
            report.violations.first()
        );
        assert!(report.crash_states > report.trace_ops, "{model}");
    }
}

#[test]
fn a_missing_fsync_before_rename_is_caught_under_posix_only() {
    let report = run(Recipe::NoFsyncBeforeRename, "posix", false);
    assert!(!report.is_clean());
    assert!(report
        .violations
        .iter()
        .any(|v| v.violation.invariant == "atomic"));
    assert!(run(Recipe::NoFsyncBeforeRename, "prefix", false).is_clean());
    assert!(
        run(Recipe::NoFsyncBeforeRename, "ext4-ordered", false).is_clean(),
        "safe rename"
    );
}

#[test]
fn a_missing_directory_fsync_is_caught_as_not_durable() {
    let report = run(Recipe::NoDirFsync, "posix", false);
    assert!(report
        .violations
        .iter()
        .any(|v| v.violation.invariant == "durable"));
    assert!(run(Recipe::NoDirFsync, "prefix", false).is_clean());
}

#[test]
fn a_lost_mode_is_caught_under_every_model() {
    for model in ["prefix", "ext4-ordered", "posix"] {
        let report = run(Recipe::LosesMode, model, false);
        assert!(
            report
                .violations
                .iter()
                .any(|v| v.violation.invariant == "mode"),
            "{model}"
        );
    }
}

#[test]
fn a_mode_made_durable_by_fdatasync_is_caught_under_posix_only() {
    let report = run(Recipe::ModeNotFsynced, "posix", false);
    assert!(report
        .violations
        .iter()
        .any(|v| v.violation.invariant == "mode"));
    assert!(run(Recipe::ModeNotFsynced, "prefix", false).is_clean());
    assert!(
        run(Recipe::ModeNotFsynced, "ext4-ordered", false).is_clean(),
        "the mode change is journaled before the rename"
    );
}

#[test]
fn every_counterexample_replays_from_its_token() {
    let subject = AtomicReplace::new(Recipe::NoFsyncBeforeRename, 2, 2);
    let config = ExploreConfig {
        jobs: 1,
        ..ExploreConfig::default()
    };
    let report = explore(&subject, &Posix, &config);
    assert_eq!(report.violations.len(), config.max_violations);
    for cx in &report.violations {
        let token = parse_token(&cx.token).unwrap();
        assert_eq!(token.subject, subject.name());
        assert_eq!(token.model, "posix");
        let again = replay(&subject, &Posix, &ExploreConfig::default(), &cx.token)
            .unwrap()
            .expect("still broken");
        assert_eq!(again.violation.invariant, cx.violation.invariant);
        assert_eq!(again.description, cx.description);
        assert!(cx
            .description
            .ends_with(&format!("crashsafe check --replay {}", cx.token)));
    }
    // The fixed recipe replays clean; another subject refuses the token.
    let fixed = AtomicReplace {
        recipe: Recipe::Correct,
        ..subject.clone()
    };
    assert!(replay(&fixed, &Posix, &config, &report.violations[0].token).is_err());
}
