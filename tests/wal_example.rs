//! The write-ahead-log example, explored: the correct variant is clean under every model, and
//! each known-bad one is caught, by the invariant it breaks, exactly under the models where its
//! bug is real (the table in README.md, "Example subjects").

#[allow(dead_code)]
#[path = "../examples/wal.rs"]
mod wal;

use crashsafe::sim::{explore, model_by_name, ExploreConfig, ExploreReport};
use wal::{Wal, WalVariant};

fn run(variant: WalVariant, model: &str, config: &ExploreConfig) -> ExploreReport {
    explore(
        &Wal::new(variant, 3),
        model_by_name(model).unwrap().as_ref(),
        config,
    )
}

fn config() -> ExploreConfig {
    ExploreConfig {
        jobs: 2,
        ..ExploreConfig::default()
    }
}

/// `None`: clean; `Some(invariant)`: caught, by that invariant.
fn expected(variant: WalVariant, model: &str) -> Option<&'static str> {
    match (variant, model) {
        (WalVariant::Correct, _) | (_, "prefix") => None,
        (WalVariant::AckBeforeSync | WalVariant::NoDirFsync, _) => Some("durable"),
        (WalVariant::NoChecksum, "posix") => Some("no-garbage"),
        // With 4096-byte blocks a small append is never torn, and ext4-ordered never shows an
        // append's zeros: the missing checksum is hidden.
        (WalVariant::NoChecksum, _) => None,
    }
}

#[test]
fn each_variant_is_clean_or_caught_as_the_table_says() {
    for variant in WalVariant::ALL {
        for model in ["prefix", "ext4-ordered", "posix"] {
            let report = run(variant, model, &config());
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
fn a_torn_append_breaks_the_unchecked_reader_under_ext4_ordered_too() {
    // 16-byte blocks: each 32-byte frame spans two blocks, and ext4-ordered may persist the
    // second without the first (a hole of zeros where the header was).
    let small_blocks = ExploreConfig {
        block_size: 16,
        ..config()
    };
    let report = run(WalVariant::NoChecksum, "ext4-ordered", &small_blocks);
    assert!(report
        .violations
        .iter()
        .any(|v| v.violation.invariant == "no-garbage"));
    assert!(run(WalVariant::Correct, "ext4-ordered", &small_blocks).is_clean());
    assert!(run(WalVariant::Correct, "posix", &small_blocks).is_clean());
}

#[test]
fn the_frame_and_the_reader_agree() {
    let subject = Wal::new(WalVariant::Correct, 2);
    let mut bytes = subject.frame(0);
    bytes.extend(subject.frame(1));
    let (records, end) = subject.parse(&bytes);
    assert_eq!(records, [subject.payload(0), subject.payload(1)]);
    assert_eq!(end, bytes.len());
    // A zeroed tail is not a record to the checked reader, but is to the unchecked one.
    bytes.extend([0u8; 8]);
    assert_eq!(subject.parse(&bytes).0.len(), 2);
    let unchecked = Wal::new(WalVariant::NoChecksum, 2);
    assert_eq!(unchecked.parse(&bytes).0.len(), 3);
}

#[test]
fn a_zeroed_append_is_marked_in_the_counterexample_and_replays() {
    use crashsafe::sim::{replay, Posix};
    let subject = Wal::new(WalVariant::NoChecksum, 3);
    let config = ExploreConfig {
        jobs: 1,
        ..ExploreConfig::default()
    };
    let report = explore(&subject, &Posix, &config);
    let cx = report
        .violations
        .iter()
        .find(|cx| cx.violation.invariant == "no-garbage")
        .expect("caught");
    assert!(cx.description.contains("ZEROS"), "{}", cx.description);
    assert!(
        cx.description.contains("write wal/log"),
        "{}",
        cx.description
    );
    let again = replay(&subject, &Posix, &config, &cx.token)
        .unwrap()
        .expect("still broken");
    assert_eq!(again.violation.invariant, "no-garbage");
}
