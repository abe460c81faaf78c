//! Structure-aware round trip: a valid [`Entry`] built from an arbitrary description must encode,
//! decode to itself and re-encode to the same bytes. Then payload bytes are flipped (and the
//! payload maybe cut short), the header's length and CRC-32C are fixed up so the damage gets past
//! the checksum, and the decoder must still not panic; whatever it accepts must round-trip.
#![no_main]

use arbitrary::Arbitrary;
use crashsafe::format::{
    decode, encode, temp_path, validate, Content, Digest, Entry, EntryKind, IncrementRecord,
    UpdateRecord, HEADER_LEN,
};
use crashsafe::path::RelPath;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

/// Components paths are made of: short names, a dotted one, a non-ASCII one, one at the
/// 255-byte limit, and one that looks like a temp file (so targets can collide with temps).
const ALPHABET: &[&str] = &[
    "a",
    "b",
    "c",
    "dir",
    "x.txt",
    ".hidden",
    "é",
    "sp ace",
    ".crashsafe-0000000000000000-0.tmp",
    ".crashsafe-0000000000000001-1.tmp",
];

const MAX_UPDATES: usize = 48;

#[derive(Arbitrary, Debug)]
struct PathDesc {
    first: u8,
    rest: Vec<u8>,
    long: bool,
}

impl PathDesc {
    fn build(&self) -> RelPath {
        let mut s = String::new();
        for (i, c) in std::iter::once(self.first)
            .chain(self.rest.iter().copied().take(3))
            .enumerate()
        {
            if i > 0 {
                s.push('/');
            }
            s.push_str(ALPHABET[c as usize % ALPHABET.len()]);
        }
        if self.long {
            s.push('/');
            s.push_str(&"n".repeat(255));
        }
        RelPath::new(&s).expect("alphabet components make a valid path")
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ContentDesc {
    Absent,
    Unknown,
    Present { len: u64, blake3: [u8; 32] },
}

impl ContentDesc {
    fn build(self) -> Content {
        match self {
            ContentDesc::Absent => Content::Absent,
            ContentDesc::Unknown => Content::Unknown,
            ContentDesc::Present { len, blake3 } => Content::Present(Digest { len, blake3 }),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct UpdateDesc {
    target: PathDesc,
    old: ContentDesc,
    new: ContentDesc,
    increment: Option<(PathDesc, ContentDesc)>,
}

#[derive(Arbitrary, Debug)]
enum KindDesc {
    Intent { atomic: bool },
    Commit,
}

#[derive(Arbitrary, Debug)]
struct Input {
    seq: u64,
    kind: KindDesc,
    updates: Vec<UpdateDesc>,
    /// (offset into the payload, XOR mask) pairs.
    flips: Vec<(u32, u8)>,
    /// Cut the payload to this many bytes (modulo its length + 1) before fixing the header.
    truncate: Option<u32>,
}

fn build(input: &Input) -> Entry {
    let kind = match input.kind {
        KindDesc::Intent { atomic } => EntryKind::Intent { atomic },
        KindDesc::Commit => EntryKind::Commit,
    };
    let mut updates = Vec::new();
    let mut names = BTreeSet::new();
    if kind != EntryKind::Commit {
        for u in input.updates.iter().take(MAX_UPDATES) {
            let index = updates.len();
            let target = u.target.build();
            let new = u.new.build();
            let temp = (new != Content::Absent).then(|| temp_path(&target, input.seq, index));
            let old = match u.old.build() {
                Content::Unknown => Content::Absent,
                c => c,
            };
            if names.contains(&target)
                || temp
                    .as_ref()
                    .is_some_and(|t| names.contains(t) || *t == target)
            {
                continue;
            }
            names.insert(target.clone());
            names.extend(temp.clone());
            let increment = u.increment.as_ref().and_then(|(p, c)| {
                let path = p.build();
                names.insert(path.clone()).then(|| IncrementRecord {
                    path,
                    content: c.build(),
                })
            });
            updates.push(UpdateRecord {
                target,
                temp,
                old,
                new,
                increment,
            });
        }
    }
    Entry {
        seq: input.seq,
        kind,
        updates,
    }
}

fn fix_header(bytes: &mut [u8]) {
    let payload_len = (bytes.len() - HEADER_LEN) as u32;
    bytes[8..12].copy_from_slice(&payload_len.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[HEADER_LEN..]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
}

fuzz_target!(|input: Input| {
    let entry = build(&input);
    if let Err(e) = validate(&entry) {
        panic!("the builder made an invalid entry ({e}): {entry:?}");
    }
    let bytes = encode(&entry).expect("a small valid entry encodes");
    let decoded = decode(&bytes).expect("an encoded entry decodes");
    assert_eq!(decoded, entry);
    assert_eq!(encode(&decoded).expect("re-encodes"), bytes);

    // Damage the payload behind a correct checksum.
    let mut damaged = bytes.clone();
    if let Some(n) = input.truncate {
        let payload_len = damaged.len() - HEADER_LEN;
        damaged.truncate(HEADER_LEN + n as usize % (payload_len + 1));
    }
    let payload_len = damaged.len() - HEADER_LEN;
    if payload_len > 0 {
        for &(at, mask) in &input.flips {
            damaged[HEADER_LEN + at as usize % payload_len] ^= mask;
        }
    }
    fix_header(&mut damaged);
    if let Ok(e) = decode(&damaged) {
        let again = encode(&e).expect("a decoded entry re-encodes");
        assert_eq!(again, damaged, "decode accepted a non-canonical encoding");
        assert_eq!(decode(&again).expect("round-trips"), e);
    }
});
