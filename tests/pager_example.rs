//! The rollback-journal pager example, explored: the correct recipe is clean under every model,
//! and each known-bad one is caught, by the invariant it breaks, exactly under the models where
//! its bug is real (the table in README.md, "Example subjects").

#[allow(dead_code)]
#[path = "../examples/pager.rs"]
mod pager;

use crashsafe::sim::{explore, model_by_name, ExploreConfig};
use pager::{Pager, PagerVariant};

/// `None`: clean; `Some(invariant)`: caught, by that invariant.
fn expected(variant: PagerVariant, model: &str) -> Option<&'static str> {
    match (variant, model) {
        // prefix keeps every write in order: the journal is always there before the pages
        // change, and always gone only after they all did.
        (PagerVariant::Correct, _) | (_, "prefix") => None,
        // Both weaker models let a page write persist without the journal's create (or with
        // its unlink) and without the other page's write.
        (_, _) => Some("atomic"),
    }
}

#[test]
fn each_variant_is_clean_or_caught_as_the_table_says() {
    let config = ExploreConfig {
        jobs: 2,
        inject_errors: true,
        ..ExploreConfig::default()
    };
    for variant in PagerVariant::ALL {
        for model in ["prefix", "ext4-ordered", "posix"] {
            let report = explore(
                &Pager::new(variant),
                model_by_name(model).unwrap().as_ref(),
                &config,
            );
            match expected(variant, model) {
                None => assert!(
                    report.is_clean(),
                    "{} under {model}: {:#?}",
                    variant.name(),
                    report.violations.first()
                ),
                Some(invariant) => assert!(
                    report
                        .violations
                        .iter()
                        .any(|v| v.violation.invariant == invariant),
                    "{} under {model}: expected {invariant}, got {:#?}",
                    variant.name(),
                    report.violations.first()
                ),
            }
        }
    }
}

#[test]
fn versions_are_whole_databases() {
    let pager = Pager::new(PagerVariant::Correct);
    assert_eq!(pager.database(0).len(), 4 * pager::PAGE);
    assert_ne!(pager.database(1), pager.database(0));
    assert_eq!(
        &pager.database(1)[8..16],
        &pager.database(0)[8..16],
        "odd pages stay"
    );
}

#[test]
fn counterexamples_name_the_new_operations_and_replay_from_their_tokens() {
    use crashsafe::sim::{replay, Posix};
    let subject = Pager::new(PagerVariant::DeleteJournalBeforeSync);
    let config = ExploreConfig {
        jobs: 1,
        ..ExploreConfig::default()
    };
    let report = explore(&subject, &Posix, &config);
    assert!(!report.violations.is_empty());
    for cx in &report.violations {
        // The trace is spelled out: the in-place page writes and the journal's unlink.
        assert!(
            cx.description.contains("write data/db @0+8"),
            "{}",
            cx.description
        );
        assert!(
            cx.description.contains("unlink data/db-journal"),
            "{}",
            cx.description
        );
        let again = replay(&subject, &Posix, &config, &cx.token)
            .unwrap()
            .expect("still broken");
        assert_eq!(again.violation, cx.violation);
        assert_eq!(again.description, cx.description);
    }
}
