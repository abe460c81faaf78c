//! Permissions on the real backend: a replaced target keeps its mode (and its owner and group,
//! where the process may set them), a created one gets what the umask leaves, `with_mode` and
//! `--mode` name one exactly, and an increment gets its target's mode.

mod common;

use common::{p, Fixture};
use crashsafe::fs::FileMode;
use crashsafe::journal::{Source, Update};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

fn mode_of(f: &Fixture, rel: &str) -> u32 {
    std::fs::symlink_metadata(f.at(rel)).unwrap().mode() & 0o7777
}

fn chmod(f: &Fixture, rel: &str, mode: u32) {
    std::fs::set_permissions(f.at(rel), std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The process umask, from `/proc/self/status` (reading it with `umask(2)` would change it).
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("a Umask line (Linux 4.7 and later)");
    u32::from_str_radix(line.trim(), 8).unwrap()
}

fn mode(bits: u32) -> FileMode {
    FileMode::new(bits).unwrap()
}

#[test]
fn a_replaced_target_keeps_its_mode_whatever_the_umask() {
    let f = Fixture::new();
    // 0664 and 0751 lose bits to a 022 umask if created afresh: kept exactly.
    for (name, bits) in [("secret", 0o600), ("shared", 0o664), ("tool", 0o751)] {
        f.write(name, b"old");
        chmod(&f, name, bits);
    }
    let mut journal = f.journal();
    for name in ["secret", "shared", "tool"] {
        journal
            .commit(Update::write(p(name), b"new".to_vec()))
            .unwrap();
    }
    assert_eq!(mode_of(&f, "secret"), 0o600);
    assert_eq!(mode_of(&f, "shared"), 0o664);
    assert_eq!(mode_of(&f, "tool"), 0o751);
    assert_eq!(f.read("secret").unwrap(), b"new");
}

#[test]
fn a_created_target_gets_what_the_umask_leaves_and_with_mode_names_one_exactly() {
    let f = Fixture::new();
    let mut journal = f.journal();
    journal
        .commit(Update::write(p("plain"), b"x".to_vec()))
        .unwrap();
    assert_eq!(mode_of(&f, "plain"), 0o644 & !umask());
    journal
        .commit(Update::write(p("exact"), b"x".to_vec()).with_mode(mode(0o660)))
        .unwrap();
    assert_eq!(mode_of(&f, "exact"), 0o660);
    // On a replaced target the caller's mode wins over the kept one.
    f.write("was-open", b"old");
    chmod(&f, "was-open", 0o644);
    journal
        .commit(Update::write(p("was-open"), b"new".to_vec()).with_mode(mode(0o600)))
        .unwrap();
    assert_eq!(mode_of(&f, "was-open"), 0o600);
}

#[test]
fn an_increment_gets_its_targets_mode() {
    let f = Fixture::new();
    f.write("secret", b"old");
    chmod(&f, "secret", 0o600);
    let mut journal = f.journal();
    journal
        .commit(
            Update::write(p("secret"), b"new".to_vec())
                .with_increment(p("secret.1"), Source::Bytes(b"reverse diff".to_vec())),
        )
        .unwrap();
    assert_eq!(mode_of(&f, "secret"), 0o600);
    assert_eq!(mode_of(&f, "secret.1"), 0o600);
    // A created target's increment follows the caller's mode too.
    journal
        .commit(
            Update::write(p("new"), b"n".to_vec())
                .with_mode(mode(0o640))
                .with_increment(p("new.1"), Source::Bytes(b"i".to_vec())),
        )
        .unwrap();
    assert_eq!(mode_of(&f, "new.1"), 0o640);
}

#[test]
fn a_replaced_target_keeps_its_owner_and_group_when_the_process_may_set_them() {
    let f = Fixture::new();
    f.write("owned", b"old");
    // A new file belongs to the process's effective user.
    if std::fs::symlink_metadata(f.at("owned")).unwrap().uid() != 0 {
        eprintln!("skipped: only root may give a file to another owner");
        return;
    }
    chmod(&f, "owned", 0o4750); // set-uid: fchown clears it, the mode is set after
    std::os::unix::fs::chown(f.at("owned"), Some(4242), Some(4343)).unwrap();
    chmod(&f, "owned", 0o4750);
    f.journal()
        .commit(Update::write(p("owned"), b"new".to_vec()))
        .unwrap();
    let meta = std::fs::symlink_metadata(f.at("owned")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
    assert_eq!(meta.mode() & 0o7777, 0o4750);
    assert_eq!(f.read("owned").unwrap(), b"new");
}

#[test]
fn a_0600_target_stays_0600_through_crashsafe_update_and_mode_sets_one() {
    let f = Fixture::new();
    f.write("secret", b"old secret");
    chmod(&f, "secret", 0o600);
    let src = f.tmp.path().join("new-secret");
    std::fs::write(&src, b"new secret").unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_crashsafe"))
            .arg("update")
            .arg(&f.root)
            .args(args)
            .arg("--from")
            .arg(&src)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    };
    run(&["secret"]);
    assert_eq!(f.read("secret").unwrap(), b"new secret");
    assert_eq!(mode_of(&f, "secret"), 0o600);
    run(&["secret", "--mode", "0640"]);
    assert_eq!(mode_of(&f, "secret"), 0o640);
    run(&["fresh", "--mode", "600"]);
    assert_eq!(mode_of(&f, "fresh"), 0o600);
    // A mode that is not octal permission bits is a usage error, and nothing is written.
    let out = Command::new(env!("CARGO_BIN_EXE_crashsafe"))
        .arg("update")
        .arg(&f.root)
        .args(["other", "--mode", "0999", "--from"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an octal mode"),
        "{out:?}"
    );
    assert!(!f.exists("other"));
}
