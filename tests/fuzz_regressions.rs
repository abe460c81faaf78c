//! Regression tests for what the fuzz targets in `fuzz/` found. Each test tells its crash's story.

use crashsafe::format::{self, temp_path, Content, Digest, Entry, EntryKind, UpdateRecord};
use crashsafe::journal::recover::recover;
use crashsafe::journal::Refusal;
use crashsafe::path::RelPath;
use crashsafe::sim::{Image, SimFs};

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// An atomic one-update intent for `target` (old: absent, new: `new`) with its commit record.
fn put_committed_intent(image: &mut Image, journal: &RelPath, seq: u64, target: &str, new: &[u8]) {
    let target = p(target);
    let intent = Entry {
        seq,
        kind: EntryKind::Intent { atomic: true },
        updates: vec![UpdateRecord {
            temp: Some(temp_path(&target, seq, 0)),
            target,
            old: Content::Absent,
            new: Content::Present(Digest::of(new)),
            increment: None,
        }],
    };
    let commit = Entry {
        seq,
        kind: EntryKind::Commit,
        updates: vec![],
    };
    let name = |ext: &str| journal.join(&format!("{seq:016x}.{ext}")).unwrap();
    image.put_file(&name("intent"), &format::encode(&intent).unwrap());
    image.put_file(&name("commit"), &format::encode(&commit).unwrap());
}

/// `recover_journal` found this (crash-57639a19…, shrunk here to two entries).
///
/// Two pending atomic batches, both past their commit point, name the same target `i/2`. The
/// first (seq 0x99) cannot roll forward: its temp file is missing, so it is refused and left in
/// place for a human, with the promise that nothing it names is touched. The second (seq 0xff)
/// then rolled forward and renamed its temp over `i/2`, which the refused entry names. A second
/// recovery found the refused entry's target changed, took that as "the batch happened", and
/// deleted the entry: the two recoveries disagreed, and the refused entry's evidence was lost on
/// the strength of a change it never made. Such a journal does not arise from the protocol (a new
/// transaction waits for recovery), but recovery must stay idempotent on whatever it finds.
///
/// The fix: an entry that names a path an earlier refused entry names is refused too
/// (`Refusal::SharesPathWithRefused`).
#[test]
fn a_later_entry_does_not_touch_what_a_refused_entry_names() {
    let journal = p(".crashsafe/journal");
    let mut image = Image::new();
    image.put_dir(&journal);
    // seq 0x99: temp missing, so it cannot roll forward and is refused.
    put_committed_intent(&mut image, &journal, 0x99, "i/2", b"new 99");
    // seq 0xff: temp complete, so on its own it rolls forward over the same target.
    put_committed_intent(&mut image, &journal, 0xff, "i/2", b"new ff");
    image.put_file(&temp_path(&p("i/2"), 0xff, 0), b"new ff");
    let before = image.walk();

    let fs = SimFs::from_image(&image);
    let first = recover(&fs, &journal).unwrap();
    let after_first = fs.image().walk();
    assert_eq!(
        after_first, before,
        "nothing a refused entry names may change"
    );
    assert!(first
        .refused
        .iter()
        .any(|(_, r)| matches!(r, Refusal::TempMismatch(_))));
    assert!(first
        .refused
        .iter()
        .any(|(_, r)| *r == Refusal::SharesPathWithRefused(p("i/2"))));
    assert!(first.removed_entries.is_empty());

    let second = recover(&fs, &journal).unwrap();
    assert_eq!(
        fs.image().walk(),
        after_first,
        "a second recovery changes nothing"
    );
    assert_eq!(second.refused, first.refused);
}

/// Found by reading the decoder under the fuzzer's memory limits, with a hand-made 1 MiB entry of
/// 174,000 one-byte-target updates: postcard's length prefix let the update list grow to one
/// 67 MB allocation, 64 times the input, although the format promises decoding bounded by a
/// small multiple of its capped input. The list is now capped at `MAX_UPDATES`, checked against
/// the declared length before any allocation.
#[test]
fn an_entry_listing_more_updates_than_the_cap_is_refused() {
    use crashsafe::format::{decode, DecodeError, MAX_UPDATES};
    // seq = 1, kind = Intent (0) with atomic = false (0), then the update count as a varint,
    // then that many minimal updates: target "a", no temp, old and new absent, no increment.
    let entry_with = |count: u32| {
        let mut payload = vec![1u8, 0, 0];
        let mut n = count;
        while n >= 0x80 {
            payload.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        payload.push(n as u8);
        for _ in 0..count {
            payload.extend_from_slice(&[1, b'a', 0, 0, 0, 0]);
        }
        let mut bytes = b"CSJE".to_vec();
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes
    };
    // At the cap the list decodes (and the entry is then invalid: "a" is named many times)…
    assert!(matches!(
        decode(&entry_with(MAX_UPDATES as u32)),
        Err(DecodeError::Invalid(_))
    ));
    // …one more and decoding stops at the list.
    assert!(matches!(
        decode(&entry_with(MAX_UPDATES as u32 + 1)),
        Err(DecodeError::Payload(_))
    ));
}
