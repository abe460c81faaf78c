//! The journal's entry format (`crashsafe::format`): round trips over arbitrary valid entries,
//! one test per way `decode` rejects bytes, which rejections count as torn, and `decode` never
//! panicking on arbitrary or mutated input.

mod common;

use common::{p, pcontent, pstr, raw_entry, raw_intent_payload, reseal, varint};
use crashsafe::format::{
    self, decode, encode, temp_path, Content, DecodeError, Digest, Entry, EntryKind,
    IncrementRecord, UpdateRecord, HEADER_LEN, MAX_PAYLOAD_LEN,
};
use crashsafe::path::{PathError, RelPath};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Generators

fn arb_component() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("dir".to_string()),
        Just("...".to_string()),
        Just("ünï".to_string()),
        "[a-z0-9._-]{1,12}".prop_filter("plain component", |s| s != "." && s != ".."),
    ]
}

fn arb_relpath() -> impl Strategy<Value = RelPath> {
    prop::collection::vec(arb_component(), 1..4).prop_map(|c| RelPath::new(&c.join("/")).unwrap())
}

fn arb_digest() -> impl Strategy<Value = Digest> {
    (any::<u64>(), any::<[u8; 32]>()).prop_map(|(len, blake3)| Digest { len, blake3 })
}

fn arb_content() -> impl Strategy<Value = Content> {
    prop_oneof![
        Just(Content::Absent),
        Just(Content::Unknown),
        arb_digest().prop_map(Content::Present),
    ]
}

fn arb_old() -> impl Strategy<Value = Content> {
    prop_oneof![
        Just(Content::Absent),
        arb_digest().prop_map(Content::Present)
    ]
}

/// One update's raw material: target, old, new, increment (path, content).
type RawUpdate = (RelPath, Content, Content, Option<(RelPath, Content)>);

fn arb_entry() -> impl Strategy<Value = Entry> {
    let raw_update = (
        arb_relpath(),
        arb_old(),
        arb_content(),
        prop::option::of((arb_relpath(), arb_content())),
    );
    let intent = (
        any::<u64>(),
        any::<bool>(),
        prop::collection::vec(raw_update, 0..=8),
    )
        .prop_map(|(seq, atomic, raw)| build_intent(seq, atomic, raw));
    prop_oneof![
        1 => any::<u64>().prop_map(|seq| Entry { seq, kind: EntryKind::Commit, updates: vec![] }),
        4 => intent,
    ]
}

/// Builds a valid intent from raw updates: temps named as `temp_path` says, every name unique
/// (updates or increments that would repeat a name are dropped).
fn build_intent(seq: u64, atomic: bool, raw: Vec<RawUpdate>) -> Entry {
    let mut names = std::collections::BTreeSet::new();
    let mut updates = Vec::new();
    for (target, old, new, inc) in raw {
        let index = updates.len();
        let temp = (new != Content::Absent).then(|| temp_path(&target, seq, index));
        if names.contains(&target) || temp.as_ref().is_some_and(|t| names.contains(t)) {
            continue;
        }
        names.insert(target.clone());
        names.extend(temp.clone());
        let increment = inc.and_then(|(path, content)| {
            names
                .insert(path.clone())
                .then_some(IncrementRecord { path, content })
        });
        updates.push(UpdateRecord {
            target,
            temp,
            old,
            new,
            increment,
        });
    }
    let entry = Entry {
        seq,
        kind: EntryKind::Intent { atomic },
        updates,
    };
    format::validate(&entry).expect("the generator builds valid entries");
    entry
}

/// A valid entry with two updates, an increment and every content variant.
fn sample() -> Entry {
    let a = p("docs/a.txt");
    let b = p("b");
    Entry {
        seq: 300,
        kind: EntryKind::Intent { atomic: true },
        updates: vec![
            UpdateRecord {
                temp: Some(temp_path(&a, 300, 0)),
                target: a,
                old: Content::Absent,
                new: Content::Present(Digest::of(b"new")),
                increment: Some(IncrementRecord {
                    path: p("inc/a.1"),
                    content: Content::Present(Digest::of(b"old")),
                }),
            },
            UpdateRecord {
                temp: Some(temp_path(&b, 300, 1)),
                target: b,
                old: Content::Present(Digest::of(b"b")),
                new: Content::Unknown,
                increment: None,
            },
        ],
    }
}

fn with_header_field(mut bytes: Vec<u8>, at: usize, field: &[u8]) -> Vec<u8> {
    bytes[at..at + field.len()].copy_from_slice(field);
    bytes
}

// ---------------------------------------------------------------------------------------------
// Round trips

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_valid_entry_round_trips_and_re_encodes_to_the_same_bytes(entry in arb_entry()) {
        let bytes = encode(&entry).unwrap();
        let decoded = decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &entry);
        prop_assert_eq!(encode(&decoded).unwrap(), bytes);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_bytes_after_a_valid_header(
        tail in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        // A correct header and CRC over arbitrary payload bytes: everything reaches postcard.
        let bytes = raw_entry(&tail);
        if let Err(e) = decode(&bytes) {
            prop_assert!(!e.is_torn(), "a payload under a valid CRC is not torn: {e:?}");
        }
    }

    #[test]
    fn decode_never_panics_on_mutations_of_a_valid_entry_with_the_crc_recomputed(
        entry in arb_entry(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let bytes = encode(&entry).unwrap();
        let mut payload = bytes[HEADER_LEN..].to_vec();
        if !payload.is_empty() {
            for (at, value) in edits {
                let i = at.index(payload.len());
                payload[i] = value;
            }
        }
        if let Some(cut) = cut {
            payload.truncate(cut.index(payload.len() + 1));
        }
        if let Ok(decoded) = decode(&raw_entry(&payload)) {
            // Whatever decodes must be valid and canonical.
            prop_assert!(format::validate(&decoded).is_ok());
            prop_assert_eq!(encode(&decoded).unwrap(), raw_entry(&payload));
        }
    }

    #[test]
    fn decode_never_panics_on_header_mutations(
        entry in arb_entry(),
        at in 0..HEADER_LEN,
        value in any::<u8>(),
    ) {
        let mut bytes = encode(&entry).unwrap();
        bytes[at] = value;
        let _ = decode(&bytes);
    }
}

#[test]
fn the_sample_round_trips() {
    let bytes = encode(&sample()).unwrap();
    assert_eq!(decode(&bytes).unwrap(), sample());
}

// ---------------------------------------------------------------------------------------------
// Rejections, one per error

#[test]
fn truncated_entry_is_rejected_as_truncated() {
    let bytes = encode(&sample()).unwrap();
    for len in [0, 3, 4, HEADER_LEN - 1, HEADER_LEN, bytes.len() - 1] {
        let err = decode(&bytes[..len]).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated { found, .. } if found == len),
            "{len} bytes: {err:?}"
        );
    }
}

#[test]
fn wrong_magic_is_rejected_as_bad_magic() {
    let bytes = with_header_field(encode(&sample()).unwrap(), 0, b"XSJE");
    assert_eq!(decode(&bytes), Err(DecodeError::BadMagic(*b"XSJE")));
    // A short file that does not start like an entry is garbage, not a truncated entry.
    assert_eq!(decode(b"JUNKJUNK"), Err(DecodeError::BadMagic(*b"JUNK")));
}

#[test]
fn another_version_is_rejected_as_unsupported_version() {
    let bytes = with_header_field(encode(&sample()).unwrap(), 4, &2u16.to_le_bytes());
    assert_eq!(decode(&bytes), Err(DecodeError::UnsupportedVersion(2)));
}

#[test]
fn nonzero_reserved_field_is_rejected_as_reserved_bits() {
    let bytes = with_header_field(encode(&sample()).unwrap(), 6, &0x0100u16.to_le_bytes());
    assert_eq!(decode(&bytes), Err(DecodeError::ReservedBits(0x0100)));
}

#[test]
fn payload_length_over_the_cap_is_rejected_as_too_large_before_reading_the_payload() {
    let claimed = MAX_PAYLOAD_LEN as u32 + 1;
    // Only the header: the cap is checked before any length comparison with the bytes present.
    let header = with_header_field(
        encode(&sample()).unwrap()[..HEADER_LEN].to_vec(),
        8,
        &claimed.to_le_bytes(),
    );
    assert_eq!(decode(&header), Err(DecodeError::TooLarge(claimed as u64)));
    let huge = with_header_field(
        encode(&sample()).unwrap()[..HEADER_LEN].to_vec(),
        8,
        &u32::MAX.to_le_bytes(),
    );
    assert_eq!(decode(&huge), Err(DecodeError::TooLarge(u32::MAX as u64)));
}

#[test]
fn payload_length_at_the_cap_is_not_too_large() {
    let header = with_header_field(
        encode(&sample()).unwrap()[..HEADER_LEN].to_vec(),
        8,
        &(MAX_PAYLOAD_LEN as u32).to_le_bytes(),
    );
    assert!(matches!(
        decode(&header),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn flipped_payload_bit_is_rejected_as_checksum_mismatch_and_not_torn() {
    let mut bytes = encode(&sample()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(err, DecodeError::ChecksumMismatch { .. }),
        "{err:?}"
    );
    // Bit rot in a whole entry: refused (kept for a human), not discarded as torn.
    assert!(!err.is_torn(), "{err:?}");
    // So is a flip in a large entry, one bit in each place.
    let big = encode(&big_entry()).unwrap();
    for at in [HEADER_LEN, HEADER_LEN + 600, big.len() / 2, big.len() - 1] {
        let mut rotten = big.clone();
        rotten[at] ^= 0x40;
        let err = decode(&rotten).unwrap_err();
        assert!(
            matches!(err, DecodeError::ChecksumMismatch { .. }) && !err.is_torn(),
            "flip at {at}: {err:?}"
        );
    }
}

#[test]
fn bytes_after_the_payload_are_trailing_zeros_if_zero_and_trailing_bytes_otherwise() {
    let mut bytes = encode(&sample()).unwrap();
    bytes.extend_from_slice(&[0, 0, 0]);
    let err = decode(&bytes).unwrap_err();
    assert_eq!(err, DecodeError::TrailingZeros(3));
    assert!(err.is_torn());
    let mut junk = encode(&sample()).unwrap();
    junk.extend_from_slice(&[0, 7, 0]);
    let err = decode(&junk).unwrap_err();
    assert_eq!(err, DecodeError::TrailingBytes(3));
    assert!(!err.is_torn(), "{err:?}");
}

/// Regression: `decode` reported bytes left over after the entry *inside* the payload as
/// `TrailingBytes`, the same error as bytes after the payload, and `is_torn()` is true for it.
/// But those bytes sit under a matching CRC-32C: they were written whole, not torn by a crash.
/// Recovery therefore *discarded* (deleted) such an entry as torn instead of refusing it and
/// leaving it for a human, so appending one byte to a crafted or foreign entry's payload, and
/// resealing the CRC, was enough to make recovery throw it away silently. They are now a
/// `Payload` error, which is not torn.
#[test]
fn bytes_after_the_entry_inside_a_checksummed_payload_are_rejected_and_not_torn() {
    let bytes = encode(&sample()).unwrap();
    let mut payload = bytes[HEADER_LEN..].to_vec();
    payload.push(0);
    let err = decode(&raw_entry(&payload)).unwrap_err();
    assert!(matches!(err, DecodeError::Payload(_)), "{err:?}");
    assert!(!err.is_torn(), "{err:?}");
}

#[test]
fn garbage_payload_under_a_valid_crc_is_rejected_as_payload() {
    // Kind index 7 is not a variant of EntryKind.
    let bytes = raw_entry(&[1, 7, 0]);
    assert!(matches!(decode(&bytes), Err(DecodeError::Payload(_))));
    let empty = raw_entry(&[]);
    assert!(matches!(decode(&empty), Err(DecodeError::Payload(_))));
}

#[test]
fn over_long_varint_is_rejected_as_non_canonical() {
    // The sample's payload starts with its seq, 300 = varint [0xac, 0x02]. Spell it with a
    // redundant continuation byte, [0xac, 0x82, 0x00], which postcard accepts but never writes.
    let bytes = encode(&sample()).unwrap();
    let payload = &bytes[HEADER_LEN..];
    assert_eq!(&payload[..2], &[0xac, 0x02]);
    let mut long = vec![0xac, 0x82, 0x00];
    long.extend_from_slice(&payload[2..]);
    assert_eq!(decode(&raw_entry(&long)), Err(DecodeError::NonCanonical));
}

fn unsafe_target(target: &str) -> DecodeError {
    let payload = raw_intent_payload(
        1,
        target,
        None,
        Content::Present(Digest::of(b"x")),
        Content::Absent,
        None,
    );
    decode(&raw_entry(&payload)).unwrap_err()
}

#[test]
fn parent_component_target_is_rejected_as_unsafe_path() {
    assert!(matches!(
        unsafe_target("../x"),
        DecodeError::UnsafePath {
            field: "target",
            error: PathError::ParentComponent(_)
        }
    ));
}

#[test]
fn absolute_target_is_rejected_as_unsafe_path() {
    assert!(matches!(
        unsafe_target("/etc/passwd"),
        DecodeError::UnsafePath {
            field: "target",
            error: PathError::Absolute(_)
        }
    ));
}

#[test]
fn empty_component_target_is_rejected_as_unsafe_path() {
    assert!(matches!(
        unsafe_target("a//b"),
        DecodeError::UnsafePath {
            field: "target",
            error: PathError::EmptyComponent(_)
        }
    ));
}

#[test]
fn nul_in_target_is_rejected_as_unsafe_path() {
    assert!(matches!(
        unsafe_target("a\0b"),
        DecodeError::UnsafePath {
            field: "target",
            error: PathError::Nul(_)
        }
    ));
}

#[test]
fn unsafe_temp_and_increment_paths_are_rejected_with_their_field() {
    let old = Content::Present(Digest::of(b"x"));
    let new = Content::Present(Digest::of(b"y"));
    let payload = raw_intent_payload(
        1,
        "a",
        Some("../.crashsafe-0000000000000001-0.tmp"),
        old,
        new,
        None,
    );
    assert!(matches!(
        decode(&raw_entry(&payload)),
        Err(DecodeError::UnsafePath { field: "temp", .. })
    ));
    let temp = ".crashsafe-0000000000000001-0.tmp";
    let payload = raw_intent_payload(1, "a", Some(temp), old, new, Some(("/etc/passwd", old)));
    assert!(matches!(
        decode(&raw_entry(&payload)),
        Err(DecodeError::UnsafePath {
            field: "increment",
            ..
        })
    ));
}

#[test]
fn misnamed_temp_is_rejected_as_invalid() {
    let mut entry = sample();
    entry.updates[0].temp = Some(p("docs/other.tmp"));
    // encode does not validate; decode does.
    let bytes = encode(&entry).unwrap();
    assert!(matches!(decode(&bytes), Err(DecodeError::Invalid(_))));
    // A temp named for another seq or index is not its own either.
    let mut entry = sample();
    entry.updates[0].temp = Some(temp_path(&entry.updates[0].target, 301, 0));
    assert!(matches!(
        decode(&encode(&entry).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
    let mut entry = sample();
    entry.updates[0].temp = Some(temp_path(&entry.updates[0].target, 300, 1));
    assert!(matches!(
        decode(&encode(&entry).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn duplicate_target_is_rejected_as_invalid() {
    let mut entry = sample();
    let a = entry.updates[0].target.clone();
    entry.updates[1].target = a.clone();
    entry.updates[1].temp = Some(temp_path(&a, 300, 1));
    assert!(matches!(
        decode(&encode(&entry).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn increment_naming_a_target_is_rejected_as_invalid() {
    let mut entry = sample();
    entry.updates[0].increment.as_mut().unwrap().path = entry.updates[1].target.clone();
    assert!(matches!(
        decode(&encode(&entry).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn unknown_old_content_is_rejected_as_invalid() {
    let mut entry = sample();
    entry.updates[0].old = Content::Unknown;
    assert!(matches!(
        decode(&encode(&entry).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn temp_and_new_content_disagreeing_is_rejected_as_invalid() {
    let mut deletion_with_temp = sample();
    deletion_with_temp.updates[0].new = Content::Absent;
    assert!(matches!(
        decode(&encode(&deletion_with_temp).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
    let mut write_without_temp = sample();
    write_without_temp.updates[1].temp = None;
    assert!(matches!(
        decode(&encode(&write_without_temp).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn commit_record_with_updates_is_rejected_as_invalid() {
    let mut entry = sample();
    entry.kind = EntryKind::Commit;
    assert!(matches!(
        decode(&encode(&entry).unwrap()),
        Err(DecodeError::Invalid(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Torn or not

#[test]
fn is_torn_is_true_exactly_for_the_shapes_a_crash_leaves() {
    let torn = [
        DecodeError::Truncated {
            expected: 16,
            found: 3,
        },
        DecodeError::BadMagic([0; 4]),
        DecodeError::ZeroedSector { offset: 512 },
        DecodeError::TrailingZeros(1),
    ];
    let whole = [
        DecodeError::BadMagic(*b"JUNK"),
        DecodeError::BadMagic([0, 0, 0, 1]),
        DecodeError::ChecksumMismatch {
            expected: 1,
            found: 2,
        },
        DecodeError::TrailingBytes(1),
        DecodeError::UnsupportedVersion(2),
        DecodeError::ReservedBits(1),
        DecodeError::TooLarge(u64::MAX),
        DecodeError::Payload("x".into()),
        DecodeError::NonCanonical,
        DecodeError::UnsafePath {
            field: "target",
            error: PathError::Empty,
        },
        DecodeError::Invalid("x".into()),
    ];
    for e in torn {
        assert!(e.is_torn(), "{e:?} should be torn");
    }
    for e in whole {
        assert!(!e.is_torn(), "{e:?} should not be torn");
    }
}

/// An intent of many updates, several sectors long.
fn big_entry() -> Entry {
    let raw = (0..40)
        .map(|i| {
            let target = p(&format!("dir/file-{i:03}"));
            let old = Content::Present(Digest::of(format!("old {i}").as_bytes()));
            let new = Content::Present(Digest::of(format!("new {i}").as_bytes()));
            (target, old, new, None)
        })
        .collect();
    build_intent(9, true, raw)
}

#[test]
fn crash_shapes_of_a_valid_entry_decode_as_torn() {
    let bytes = encode(&big_entry()).unwrap();
    let sector = format::TORN_SECTOR;
    assert!(bytes.len() > 4 * sector, "the entry spans several sectors");
    // Cut short anywhere.
    for len in 0..bytes.len() {
        let e = decode(&bytes[..len]).unwrap_err();
        assert!(e.is_torn(), "cut at {len}: {e:?}");
    }
    // Zero-filled: wholly (the size persisted, no data), or one sector, or every sector from
    // some sector on (the blocks that never arrived).
    assert!(decode(&vec![0u8; bytes.len()]).unwrap_err().is_torn());
    for s in 1..bytes.len().div_ceil(sector) {
        let range = s * sector..((s + 1) * sector).min(bytes.len());
        if range.len() < 32 {
            continue;
        }
        let mut one = bytes.clone();
        one[range].fill(0);
        let e = decode(&one).unwrap_err();
        assert_eq!(e, DecodeError::ZeroedSector { offset: s * sector });
        assert!(e.is_torn(), "sector {s} zeroed: {e:?}");
        let mut tail = bytes.clone();
        tail[s * sector..].fill(0);
        assert!(
            decode(&tail).unwrap_err().is_torn(),
            "zeroed from sector {s}"
        );
    }
    // The first sector lost, the rest present.
    let mut head = bytes.clone();
    head[..sector].fill(0);
    assert_eq!(decode(&head).unwrap_err(), DecodeError::BadMagic([0; 4]));
    // A size that persisted past the data.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 4096]);
    assert!(decode(&longer).unwrap_err().is_torn());
}

#[test]
fn zeros_that_are_not_a_whole_sector_are_not_torn() {
    // A few zeroed bytes inside one sector are damage, not a lost block: refused.
    let bytes = encode(&big_entry()).unwrap();
    let mut part = bytes.clone();
    part[600..700].fill(0);
    let e = decode(&part).unwrap_err();
    assert!(matches!(e, DecodeError::ChecksumMismatch { .. }), "{e:?}");
    assert!(!e.is_torn());
    // A small entry zeroed after its header: under a sector, not a crash shape either.
    let small = encode(&sample()).unwrap();
    assert!(small.len() < format::TORN_SECTOR);
    let mut z = small.clone();
    z[HEADER_LEN + 5..].fill(0);
    assert!(!decode(&z).unwrap_err().is_torn());
    // Foreign bytes under the entry's name are not torn either.
    assert!(!decode(b"#!/bin/sh\nrm -rf /\n").unwrap_err().is_torn());
}

/// An encoded intent of two sectors and `tail` bytes: updates of long names, the last with an
/// increment whose name is lengthened a byte at a time until the entry is exactly that long. It
/// ends in that increment's digest, so its last bytes are not zeros already.
fn entry_with_a_last_sector_of(tail: usize) -> Vec<u8> {
    let want = 2 * format::TORN_SECTOR + tail;
    for updates in 1..8 {
        for inc_len in 1..250 {
            let raw = (0..updates)
                .map(|i| {
                    let target = p(&format!("dir/{i}-{}", "n".repeat(120)));
                    let new = Content::Present(Digest::of(target.as_str().as_bytes()));
                    let inc = (i == updates - 1).then(|| {
                        let content = Content::Present(Digest::of(b"the increment"));
                        (p(&"i".repeat(inc_len)), content)
                    });
                    (target, Content::Absent, new, inc)
                })
                .collect();
            let bytes = encode(&build_intent(3, false, raw)).unwrap();
            if bytes.len() == want {
                assert!(bytes[want - 31..].iter().all(|&b| b != 0), "{bytes:?}");
                return bytes;
            }
        }
    }
    panic!("no entry of this shape is {want} bytes long");
}

#[test]
fn a_zeroed_last_partial_sector_is_torn_from_32_bytes_and_damage_below() {
    let sector = format::TORN_SECTOR;
    // 32 zero bytes or more at the end: the last block never arrived, a crash shape.
    for tail in [32, 33, 100] {
        let mut bytes = entry_with_a_last_sector_of(tail);
        let start = bytes.len() - tail;
        bytes[start..].fill(0);
        let e = decode(&bytes).unwrap_err();
        assert_eq!(
            e,
            DecodeError::ZeroedSector { offset: 2 * sector },
            "tail {tail}"
        );
        assert!(e.is_torn(), "tail {tail}");
    }
    // Fewer: a legitimate entry can end in a few zeros, so zeroing them is damage, refused.
    for tail in [1, 5, 31] {
        let mut bytes = entry_with_a_last_sector_of(tail);
        let start = bytes.len() - tail;
        bytes[start..].fill(0);
        let e = decode(&bytes).unwrap_err();
        assert!(
            matches!(e, DecodeError::ChecksumMismatch { .. }) && !e.is_torn(),
            "tail {tail}: {e:?}"
        );
    }
}

#[test]
fn hand_encoded_payload_matches_the_documented_layout() {
    // The security tests hand-encode entries; check the encoder agrees with the format doc.
    let target = p("a");
    let temp = temp_path(&target, 5, 0);
    let old = Content::Present(Digest::of(b"old"));
    let new = Content::Present(Digest::of(b"new"));
    let inc = Content::Present(Digest::of(b"inc"));
    let entry = Entry {
        seq: 5,
        kind: EntryKind::Intent { atomic: false },
        updates: vec![UpdateRecord {
            target,
            temp: Some(temp.clone()),
            old,
            new,
            increment: Some(IncrementRecord {
                path: p("a.1"),
                content: inc,
            }),
        }],
    };
    let payload = raw_intent_payload(5, "a", Some(temp.as_str()), old, new, Some(("a.1", inc)));
    assert_eq!(raw_entry(&payload), encode(&entry).unwrap());
    // And the helpers' primitives.
    let mut v = Vec::new();
    varint(300, &mut v);
    pstr("ab", &mut v);
    pcontent(Content::Unknown, &mut v);
    assert_eq!(v, [0xac, 0x02, 2, b'a', b'b', 1]);
    assert_eq!(reseal(&encode(&entry).unwrap()), encode(&entry).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Size caps, each at exactly its limit and one over

/// The payload length `encode` makes (or refuses with) for `entry`.
fn payload_len(entry: &Entry) -> usize {
    match encode(entry) {
        Ok(bytes) => bytes.len() - HEADER_LEN,
        Err(DecodeError::TooLarge(n)) => n as usize,
        Err(e) => panic!("encode failed otherwise: {e}"),
    }
}

/// A delete of `dir/name`: no temp, no increment, so the target's length sets its size.
fn delete(target: String) -> UpdateRecord {
    UpdateRecord {
        target: p(&target),
        temp: None,
        old: Content::Absent,
        new: Content::Absent,
        increment: None,
    }
}

/// A path of `len` bytes starting `{i:06}-`, in components of at most 200 bytes.
fn long_name(i: usize, len: usize) -> String {
    let mut s = format!("{i:06}-");
    let mut component = s.len();
    while s.len() < len {
        if component >= 200 && s.len() + 1 < len {
            s.push('/');
            component = 0;
        } else {
            s.push('x');
            component += 1;
        }
    }
    s
}

/// An intent of deletes whose payload is exactly `want` bytes: 250-byte names (256 bytes of
/// payload each) up to about 2,000 bytes short, then one update whose name takes up the rest.
fn entry_with_payload_len(want: usize) -> Entry {
    let n = (want - 2_000) / 256;
    let mut entry = Entry {
        seq: 1,
        kind: EntryKind::Intent { atomic: false },
        updates: (0..n).map(|i| delete(long_name(i, 250))).collect(),
    };
    let mut len = want - payload_len(&entry) - 8;
    for _ in 0..4 {
        entry.updates.truncate(n);
        entry.updates.push(delete(long_name(n, len)));
        let got = payload_len(&entry);
        if got == want {
            format::validate(&entry).expect("a valid entry");
            return entry;
        }
        len = (len as isize + want as isize - got as isize) as usize;
    }
    panic!("no entry with a {want}-byte payload");
}

#[test]
fn max_entry_len_is_the_header_plus_the_largest_payload() {
    assert_eq!(format::MAX_ENTRY_LEN, HEADER_LEN + MAX_PAYLOAD_LEN);
    assert_eq!(format::MAX_ENTRY_LEN, 16 + (1 << 20));
}

#[test]
fn encode_accepts_a_payload_of_exactly_the_cap_and_decode_reads_it_back() {
    let entry = entry_with_payload_len(MAX_PAYLOAD_LEN);
    let bytes = encode(&entry).expect("a payload at the cap is encoded");
    assert_eq!(bytes.len(), format::MAX_ENTRY_LEN);
    assert_eq!(decode(&bytes), Ok(entry));
}

#[test]
fn encode_refuses_a_payload_one_byte_over_the_cap_as_too_large() {
    let entry = entry_with_payload_len(MAX_PAYLOAD_LEN + 1);
    assert_eq!(
        encode(&entry),
        Err(DecodeError::TooLarge(MAX_PAYLOAD_LEN as u64 + 1))
    );
}

/// An intent of `n` deletes with short distinct names.
fn entry_with_updates(n: usize) -> Entry {
    Entry {
        seq: 2,
        kind: EntryKind::Intent { atomic: true },
        updates: (0..n).map(|i| delete(format!("f{i}"))).collect(),
    }
}

#[test]
fn an_entry_of_exactly_max_updates_is_valid_and_decodes() {
    let entry = entry_with_updates(format::MAX_UPDATES);
    assert_eq!(format::validate(&entry), Ok(()));
    let bytes = encode(&entry).expect("encoded");
    assert_eq!(decode(&bytes), Ok(entry));
}

#[test]
fn one_update_over_max_updates_is_refused_by_validate_and_by_decode() {
    let entry = entry_with_updates(format::MAX_UPDATES + 1);
    assert!(matches!(
        format::validate(&entry),
        Err(DecodeError::Invalid(m)) if m.contains("16385 updates, over the 16384 cap")
    ));
    // `encode` checks only the byte cap, so the bytes exist. Decoding refuses them while it
    // reads the list, before allocating for it: a payload error, not the `Invalid` that
    // `validate` would give after the list was built.
    let bytes = encode(&entry).expect("under the byte cap");
    assert!(matches!(decode(&bytes), Err(DecodeError::Payload(_))));
}

// ---------------------------------------------------------------------------------------------
// Digests

#[test]
fn a_digest_is_the_length_and_blake3_and_debug_prints_the_length_and_six_hash_bytes() {
    let d = Digest::of(b"abc");
    assert_eq!(d.len, 3);
    // BLAKE3("abc") from the BLAKE3 reference: 6437b3ac3846 5133ffb6...
    assert_eq!(
        &d.blake3[..8],
        &[0x64, 0x37, 0xb3, 0xac, 0x38, 0x46, 0x51, 0x33]
    );
    assert_eq!(format!("{d:?}"), "3B:6437b3ac3846");
    assert_ne!(Digest::of(b"abd"), d);
}

// ---------------------------------------------------------------------------------------------
// Derived names: temp and scratch paths

/// What the module doc says a derived name is, spelled with `format!` as the reference.
fn derived(dir: &str, seq: u64, index: usize, suffix: &str) -> String {
    let name = format!(".crashsafe-{seq:016x}-{index}.{suffix}");
    match dir {
        "" => name,
        dir => format!("{dir}/{name}"),
    }
}

#[test]
fn temp_and_scratch_names_are_the_seq_in_16_hex_digits_and_the_index_in_decimal() {
    let seqs = [0, 1, 0xabc, 0x0123_4567_89ab_cdef, u64::MAX];
    let indexes = [0, 1, 9, 10, 99, 100, 12_345, usize::MAX];
    for (target, dir) in [(p("d/e/f.txt"), "d/e"), (p("f"), ""), (RelPath::root(), "")] {
        for seq in seqs {
            for index in indexes {
                let temp = format::try_temp_path(&target, seq, index).unwrap();
                assert_eq!(temp.as_str(), derived(dir, seq, index, "tmp"));
                assert_eq!(temp_path(&target, seq, index), temp);
                let scratch = format::try_scratch_path(&target, seq, index).unwrap();
                assert_eq!(scratch.as_str(), derived(dir, seq, index, "rec"));
            }
        }
    }
}

#[test]
fn a_derived_path_over_max_path_len_is_too_long_quoting_its_first_64_characters() {
    // The name for seq 5, index 0 is 33 bytes: a directory of 4061 bytes leaves exactly room.
    let dir = |len: usize| {
        let mut s = "d/".repeat(len / 2);
        s.truncate(len - 1);
        s.push('e');
        assert_eq!(s.len(), len);
        s
    };
    let fits = p(&format!("{}/t", dir(4061)));
    let temp = format::try_temp_path(&fits, 5, 0).unwrap();
    assert_eq!(temp.as_str().len(), crashsafe::path::MAX_PATH_LEN);
    assert!(format::try_scratch_path(&fits, 5, 0).is_ok());
    let over = p(&format!("{}/t", dir(4062)));
    let whole = derived(&dir(4062), 5, 0, "tmp");
    let quoted = whole.chars().take(64).collect::<String>() + "…";
    assert_eq!(
        format::try_temp_path(&over, 5, 0),
        Err(PathError::TooLong(quoted.clone()))
    );
    assert_eq!(
        format::try_scratch_path(&over, 5, 0),
        Err(PathError::TooLong(quoted))
    );
}

#[test]
fn a_temp_with_its_own_name_in_another_directory_is_not_its_own() {
    let name = ".crashsafe-000000000000012c-0.tmp";
    for temp in [
        format!("doc/{name}"),
        format!("docs/sub/{name}"),
        format!("xdocs/{name}"),
        name.to_string(),
    ] {
        let mut entry = sample();
        entry.updates[0].temp = Some(p(&temp));
        assert_eq!(
            format::validate(&entry),
            Err(DecodeError::Invalid(format!(
                "update 0's temp {temp} is not its own"
            )))
        );
        assert_eq!(
            decode(&encode(&entry).unwrap()),
            Err(DecodeError::Invalid(format!(
                "update 0's temp {temp} is not its own"
            )))
        );
    }
    // A target in the root: its temp is in the root too, not in a directory.
    let mut entry = sample();
    entry.updates[1].temp = Some(p("b/.crashsafe-000000000000012c-1.tmp"));
    assert!(matches!(
        format::validate(&entry),
        Err(DecodeError::Invalid(m)) if m.starts_with("update 1's temp b/")
    ));
}

#[test]
fn each_inconsistency_is_refused_with_its_exact_message() {
    let message = |edit: &dyn Fn(&mut Entry)| {
        let mut entry = sample();
        edit(&mut entry);
        let by_validate = format::validate(&entry).unwrap_err();
        assert_eq!(decode(&encode(&entry).unwrap()), Err(by_validate.clone()));
        by_validate.to_string()
    };
    assert_eq!(
        message(&|e| e.updates[1].temp = None),
        "invalid entry: update 1 writes content but has no temp"
    );
    assert_eq!(
        message(&|e| e.updates[0].new = Content::Absent),
        "invalid entry: update 0 deletes its target but names a temp"
    );
    assert_eq!(
        message(&|e| e.updates[0].temp = Some(p("docs/other.tmp"))),
        "invalid entry: update 0's temp docs/other.tmp is not its own"
    );
    assert_eq!(
        message(&|e| e.updates[1].old = Content::Unknown),
        "invalid entry: update 1's old content is unknown"
    );
    assert_eq!(
        message(&|e| e.updates[1].increment = e.updates[0].increment.clone()),
        "invalid entry: inc/a.1 is named twice"
    );
    assert_eq!(
        message(&|e| e.kind = EntryKind::Commit),
        "invalid entry: a commit record lists no updates"
    );
}

#[test]
fn the_root_named_twice_is_printed_as_a_dot() {
    // `decode` never yields the root, but `validate` checks entries the journal is handed.
    let entry = Entry {
        seq: 1,
        kind: EntryKind::Intent { atomic: false },
        updates: vec![delete_of(RelPath::root()), delete_of(RelPath::root())],
    };
    assert_eq!(
        format::validate(&entry),
        Err(DecodeError::Invalid(". is named twice".into()))
    );
}

fn delete_of(target: RelPath) -> UpdateRecord {
    UpdateRecord {
        target,
        temp: None,
        old: Content::Present(Digest::of(b"x")),
        new: Content::Absent,
        increment: None,
    }
}

#[test]
fn an_unsafe_path_is_refused_with_its_exact_message() {
    assert_eq!(
        unsafe_target("../x").to_string(),
        "unsafe path in target: the path \"../x\" has a `..` component"
    );
    assert_eq!(
        unsafe_target("").to_string(),
        "unsafe path in target: the path is empty"
    );
}

#[test]
fn an_unsafe_path_in_a_later_update_wins_over_an_inconsistency_in_an_earlier_one() {
    let mut entry = sample();
    entry.updates[0].temp = Some(p("docs/other.tmp"));
    entry.updates[1] = delete_of(p("zzzz"));
    let mut bytes = encode(&entry).unwrap();
    let at = bytes.windows(4).position(|w| w == b"zzzz").unwrap();
    bytes[at..at + 4].copy_from_slice(b"../x");
    assert_eq!(
        decode(&reseal(&bytes)),
        Err(DecodeError::UnsafePath {
            field: "target",
            error: PathError::ParentComponent("../x".into())
        })
    );
}

/// A one-update payload with the target `target`, the byte at `at` (a one-byte varint) written
/// over-long, as two bytes.
fn with_over_long_varint_at(target: &str, at: usize) -> Vec<u8> {
    let old = Content::Present(Digest::of(b"x"));
    let mut payload = raw_intent_payload(1, target, None, old, Content::Absent, None);
    assert!(payload[at] < 0x80);
    payload[at] |= 0x80;
    payload.insert(at + 1, 0);
    payload
}

#[test]
fn an_over_long_string_length_is_non_canonical() {
    // seq, Intent, atomic, the update count: the target's length is the fifth byte.
    let payload = with_over_long_varint_at("a", 4);
    assert_eq!(decode(&raw_entry(&payload)), Err(DecodeError::NonCanonical));
}

#[test]
fn a_non_canonical_payload_is_refused_as_such_before_its_paths_are_looked_at() {
    let payload = with_over_long_varint_at("../x", 0);
    assert_eq!(decode(&raw_entry(&payload)), Err(DecodeError::NonCanonical));
}

/// Pins that `validate`'s one-pass check (`updates_valid` in src/format.rs) refuses each fault
/// by itself, not only when another update sends the entry to the ordered checks: here the fault
/// is in the entry's only update. With the temp's name compared the wrong way round, or the old
/// content's, a one-update entry with a temp named for another update, or with an unknown old
/// content, was accepted; any entry that also holds a valid update hid it.
#[test]
fn a_fault_in_an_entrys_only_update_is_refused() {
    let only = |edit: &dyn Fn(&mut UpdateRecord)| {
        let mut entry = sample();
        entry.updates.truncate(1);
        edit(&mut entry.updates[0]);
        format::validate(&entry).map_err(|e| {
            assert_eq!(decode(&encode(&entry).unwrap()), Err(e.clone()));
            e.to_string()
        })
    };
    assert_eq!(only(&|_| {}), Ok(()), "the update alone is valid");
    let other = temp_path(&p("docs/a.txt"), 300, 1);
    assert_eq!(
        only(&|u| u.temp = Some(other.clone())),
        Err(format!(
            "invalid entry: update 0's temp {other} is not its own"
        ))
    );
    assert_eq!(
        only(&|u| u.old = Content::Unknown),
        Err("invalid entry: update 0's old content is unknown".to_string())
    );
}
