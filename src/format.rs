//! The journal's on-disk entry format, version 1.
//!
//! An entry file is a fixed 16-byte header followed by a payload:
//!
//! | offset | size | field        | value                                                        |
//! |-------:|-----:|--------------|--------------------------------------------------------------|
//! | 0      | 4    | magic        | the bytes `C S J E` (`0x43 0x53 0x4a 0x45`)                   |
//! | 4      | 2    | version      | little-endian `u16`, [`FORMAT_VERSION`] (1)                  |
//! | 6      | 2    | reserved     | must be zero                                                 |
//! | 8      | 4    | payload_len  | little-endian `u32`, at most [`MAX_PAYLOAD_LEN`] (1 MiB)     |
//! | 12     | 4    | crc          | little-endian `u32`, CRC-32C (Castagnoli) of the payload     |
//! | 16     | len  | payload      | an [`Entry`] encoded with postcard                           |
//!
//! The file holds exactly `16 + payload_len` bytes; anything after is an error.
//!
//! The payload is the postcard encoding (varint integers, length-prefixed sequences and strings,
//! enum variants as a varint index) of this structure, fields in this order:
//!
//! ```text
//! Entry        { seq: u64, kind: EntryKind, updates: [UpdateRecord] }
//! EntryKind    = 0 Intent { atomic: bool } | 1 Commit
//! UpdateRecord { target: str, temp: Option<str>, old: Content, new: Content,
//!                increment: Option<Increment> }
//! Increment    { path: str, content: Content }
//! Content      = 0 Absent | 1 Unknown | 2 Present(Digest)
//! Digest       { len: u64, blake3: [u8; 32] }
//! ```
//!
//! An entry lists at most [`MAX_UPDATES`] updates.
//!
//! An *intent* lists a transaction's updates and is made durable before anything else changes. A
//! *commit* record (no updates) marks an atomic batch as past its commit point. Every path must be
//! a safe [`RelPath`]; a temp path must be `<target's directory>/.crashsafe-<seq>-<index>.tmp`.
//!
//! Decoding is strict and bounded: it reads the header, refuses a payload over the cap before
//! looking at it, checks the CRC, decodes, refuses trailing bytes and any encoding that does not
//! re-encode to the same bytes, then checks every path. It never panics; it never allocates more
//! than a small multiple of its (capped) input.

use crate::path::{PathError, RelPath};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The four bytes every entry file starts with.
pub const MAGIC: [u8; 4] = *b"CSJE";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The header's length in bytes.
pub const HEADER_LEN: usize = 16;
/// The largest payload accepted: 1 MiB.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;
/// The largest entry file: header plus the largest payload.
pub const MAX_ENTRY_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN;
/// The most updates one entry may list. It bounds what decoding allocates: a minimal update is
/// a few bytes on the wire but a few hundred in memory, so without it a 1 MiB payload could ask
/// for tens of MiB.
pub const MAX_UPDATES: usize = 16_384;

/// The length and BLAKE3 hash of a file's content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Digest {
    /// The content's length in bytes.
    pub len: u64,
    /// BLAKE3 of the content.
    pub blake3: [u8; 32],
}

impl Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest {
            len: data.len() as u64,
            blake3: *blake3::hash(data).as_bytes(),
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B:", self.len)?;
        for b in &self.blake3[..6] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What a file holds, as far as an entry knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Content {
    /// No file at that name.
    Absent,
    /// Content not known when the entry was written (streamed from a reader).
    Unknown,
    /// A regular file with this digest.
    Present(Digest),
}

/// An increment file written beside an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementRecord {
    /// Where the increment goes.
    pub path: RelPath,
    /// What it holds once complete.
    pub content: Content,
}

/// One update of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRecord {
    /// The file replaced, created or deleted.
    pub target: RelPath,
    /// The temp file renamed over the target; `None` for a deletion.
    pub temp: Option<RelPath>,
    /// The target's content before the update.
    pub old: Content,
    /// The target's content after it (`Absent` for a deletion).
    pub new: Content,
    /// The increment written with the update.
    pub increment: Option<IncrementRecord>,
}

/// What an entry file records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A transaction's updates, durable before any of them starts.
    Intent {
        /// All-or-nothing: recovery rolls the whole batch back or forward.
        atomic: bool,
    },
    /// An atomic batch has passed its commit point: every temp file and increment is durable.
    Commit,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The transaction's sequence number; entries are recovered in this order.
    pub seq: u64,
    /// Intent or commit record.
    pub kind: EntryKind,
    /// The updates (empty for a commit record).
    pub updates: Vec<UpdateRecord>,
}

/// The temp file name for update `index` of transaction `seq`, in the target's directory.
///
/// Panics if the target's directory is so long that the temp name does not fit in
/// [`crate::path::MAX_PATH_LEN`]; [`try_temp_path`] reports that instead.
pub fn temp_path(target: &RelPath, seq: u64, index: usize) -> RelPath {
    try_temp_path(target, seq, index).expect("the temp path fits")
}

/// The temp file name for update `index` of transaction `seq`, or why it cannot be made (the
/// target's directory is too long to hold it).
pub fn try_temp_path(target: &RelPath, seq: u64, index: usize) -> Result<RelPath, PathError> {
    target.sibling(DerivedName::new(seq, index, TEMP_SUFFIX).as_str())
}

/// The name an increment is written under until its transaction's switch, for update `index`
/// of transaction `seq`, in the increment's directory: `.crashsafe-<seq>-<index>.inc`, or why it
/// cannot be made (the directory is too long to hold it). Derived, never recorded (see
/// `journal::commit`, `Shape::IntentWithData`).
pub fn try_increment_temp_path(
    increment: &RelPath,
    seq: u64,
    index: usize,
) -> Result<RelPath, PathError> {
    increment.sibling(DerivedName::new(seq, index, INCREMENT_TEMP_SUFFIX).as_str())
}

/// The last part of a temp file's name.
const TEMP_SUFFIX: &str = ".tmp";
/// The last part of an increment's temp name.
const INCREMENT_TEMP_SUFFIX: &str = ".inc";
/// The last part of a scratch file's name.
const SCRATCH_SUFFIX: &str = ".rec";

/// A name derived for update `index` of entry `seq`, never read from an entry:
/// `.crashsafe-<seq>-<index><suffix>`, `seq` as 16 lowercase hex digits and `index` in decimal
/// without padding. It is built on the stack: deriving a path costs one allocation, the path's.
struct DerivedName {
    bytes: [u8; DerivedName::CAPACITY],
    len: usize,
}

impl DerivedName {
    /// What every derived name starts with.
    const PREFIX: &'static str = ".crashsafe-";
    /// The prefix, 16 hex digits, a dash, the 20 digits of the largest `u64` and a 4-byte
    /// suffix.
    const CAPACITY: usize = 52;

    fn new(seq: u64, index: usize, suffix: &'static str) -> DerivedName {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut name = DerivedName {
            bytes: [0; DerivedName::CAPACITY],
            len: 0,
        };
        name.push(DerivedName::PREFIX.as_bytes());
        for shift in (0..16).rev() {
            name.push(&[HEX[(seq >> (shift * 4)) as usize & 0xf]]);
        }
        name.push(b"-");
        // `usize` is at most 64 bits on every target Rust supports, so the widening is lossless.
        let mut rest = index as u64;
        let mut digits = [0u8; 20];
        let mut first = digits.len();
        loop {
            first -= 1;
            digits[first] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        name.push(&digits[first..]);
        name.push(suffix.as_bytes());
        name
    }

    fn push(&mut self, part: &[u8]) {
        let end = self.len + part.len();
        self.bytes[self.len..end].copy_from_slice(part);
        self.len = end;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("a derived name is ASCII")
    }
}

/// The path recovery uses as scratch for update `index` of entry `seq`: beside the target,
/// `.crashsafe-<seq>-<index>.rec`, the temp name's length (so it fits wherever the temp name
/// does). It is never recorded: recovery derives it, removes it when it finds it, and creates it
/// only to make its own verdict durable (see `journal::recover`).
pub fn try_scratch_path(target: &RelPath, seq: u64, index: usize) -> Result<RelPath, PathError> {
    target.sibling(DerivedName::new(seq, index, SCRATCH_SUFFIX).as_str())
}

/// Why bytes are not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the header, or than the header's payload length says.
    #[error("entry is truncated: {found} bytes where {expected} were expected")]
    Truncated {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The file does not start with [`MAGIC`].
    #[error("not a crashsafe entry (bad magic {0:02x?})")]
    BadMagic([u8; 4]),
    /// A version this code does not know.
    #[error(
        "entry format version {0} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion(u16),
    /// The reserved header field is not zero.
    #[error("reserved header field is {0:#06x}, not zero")]
    ReservedBits(u16),
    /// The payload length is over [`MAX_PAYLOAD_LEN`].
    #[error("payload length {0} is over the {MAX_PAYLOAD_LEN}-byte cap")]
    TooLarge(u64),
    /// The payload's CRC-32C does not match the header's, and no part of the file is zero-filled
    /// the way a write that never fully arrived leaves it: the entry was whole and then changed
    /// (bit rot, tampering). Not torn.
    #[error("checksum mismatch: header says {expected:#010x}, payload has {found:#010x}")]
    ChecksumMismatch {
        /// CRC in the header.
        expected: u32,
        /// CRC of the payload read.
        found: u32,
    },
    /// The payload's CRC-32C does not match, and a whole sector of the file (see
    /// [`TORN_SECTOR`]) reads as zeros: the shape a crash leaves when some blocks of the entry's
    /// one write reached the disk and others did not. Torn.
    #[error("checksum mismatch with the sector at byte {offset} all zeros: the write never fully reached the disk")]
    ZeroedSector {
        /// The first zero-filled sector's offset in the file.
        offset: usize,
    },
    /// Bytes after the payload that are not all zeros: the file is longer than its header says,
    /// which no crash of the journal's one write into a fresh file produces. Not torn. (Bytes
    /// after the entry *inside* the checksummed payload are a [`DecodeError::Payload`] error.)
    #[error("{0} trailing bytes after the entry")]
    TrailingBytes(usize),
    /// Zero bytes after the payload: a size that persisted past the data. Torn.
    #[error("{0} zero bytes after the entry")]
    TrailingZeros(usize),
    /// The payload passed its checksum but is not a valid postcard encoding of an entry.
    #[error("payload does not decode: {0}")]
    Payload(String),
    /// The payload decodes, but not from its canonical encoding.
    #[error("payload is not canonically encoded")]
    NonCanonical,
    /// A path in the entry is not a safe root-relative path.
    #[error("unsafe path in {field}: {error}")]
    UnsafePath {
        /// Which field held it.
        field: &'static str,
        /// What is wrong with it.
        error: PathError,
    },
    /// The entry is well formed but inconsistent (a misnamed temp file, a duplicate target…).
    #[error("invalid entry: {0}")]
    Invalid(String),
}

impl DecodeError {
    /// Whether the bytes have the shape a crash leaves in an entry whose one write (into a fresh
    /// file, before its fsync) did not fully reach the disk: shorter than its header says
    /// ([`DecodeError::Truncated`]), a zero-filled start ([`DecodeError::BadMagic`] of zeros) or
    /// sector ([`DecodeError::ZeroedSector`]), or zeros after it ([`DecodeError::TrailingZeros`]).
    /// Such an entry was never durable, so nothing was changed under it and recovery may discard
    /// it. Any other error means the bytes were written whole and then changed, or by something
    /// else (bit rot, a newer version, a tamperer): recovery refuses those and leaves them, and
    /// whatever they name, for a human.
    pub fn is_torn(&self) -> bool {
        match self {
            DecodeError::Truncated { .. }
            | DecodeError::ZeroedSector { .. }
            | DecodeError::TrailingZeros(_) => true,
            DecodeError::BadMagic(magic) => *magic == [0; 4],
            _ => false,
        }
    }
}

/// The granularity at which a crash is taken to tear a write: a disk sector. Devices write a
/// sector whole or not at all, and filesystems tear at block (page) granularity, a multiple of
/// it; a write that did not fully arrive leaves whole sectors of zeros in a fresh file.
pub const TORN_SECTOR: usize = 512;

/// The shortest zero-filled last sector counted as torn: a legitimate entry can end in a few
/// zero bytes (`None`, `Absent`), so a short zero tail alone is not evidence of a crash.
const MIN_ZEROED_TAIL: usize = 32;

/// The offset of the first sector of `bytes`, after the first, that is all zeros (a last,
/// partial sector counts if it is at least [`MIN_ZEROED_TAIL`] bytes long).
fn zeroed_sector(bytes: &[u8]) -> Option<usize> {
    bytes
        .chunks(TORN_SECTOR)
        .enumerate()
        .skip(1)
        .find(|(_, sector)| {
            (sector.len() == TORN_SECTOR || sector.len() >= MIN_ZEROED_TAIL)
                && sector.iter().all(|&b| b == 0)
        })
        .map(|(i, _)| i * TORN_SECTOR)
}

/// Encodes an entry: header and payload.
///
/// Fails only if the payload would be over the cap (too many or too long paths).
pub fn encode(entry: &Entry) -> Result<Vec<u8>, DecodeError> {
    // The payload is written after room for the header, which is filled in once its length and
    // checksum are known: one buffer, no copy.
    let mut out = postcard::to_extend(&wire::WireEntry::from(entry), vec![0; HEADER_LEN])
        .map_err(|e| DecodeError::Payload(e.to_string()))?;
    let (header, payload) = out.split_at_mut(HEADER_LEN);
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(DecodeError::TooLarge(payload.len() as u64));
    }
    header[..4].copy_from_slice(&MAGIC);
    header[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[6..8].copy_from_slice(&0u16.to_le_bytes());
    header[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[12..].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    Ok(out)
}

/// Decodes an entry file's bytes strictly; see the module doc for what is checked.
pub fn decode(bytes: &[u8]) -> Result<Entry, DecodeError> {
    let payload = check_header(bytes)?;
    let (wire, rest) = postcard::take_from_bytes::<wire::WireEntry<'_>>(payload)
        .map_err(|e| DecodeError::Payload(e.to_string()))?;
    if !rest.is_empty() {
        // Under a matching checksum these bytes were written whole, not torn by a crash: a
        // payload error, which recovery refuses, not `TrailingZeros`, which it discards.
        return Err(DecodeError::Payload(format!(
            "{} bytes after the entry inside the checksummed payload",
            rest.len()
        )));
    }
    match postcard::serialize_with_flavor(&wire, wire::SameAs(payload)) {
        Ok(()) => {}
        Err(postcard::Error::SerializeBufferFull) => return Err(DecodeError::NonCanonical),
        Err(e) => return Err(DecodeError::Payload(e.to_string())),
    }
    wire.into_entry()
}

/// Checks the header and the checksum, returning the payload.
fn check_header(bytes: &[u8]) -> Result<&[u8], DecodeError> {
    if bytes.len() < HEADER_LEN {
        // A short file that does not even start like an entry is garbage, not a torn entry;
        // both are discarded, but the error says which.
        if bytes.len() >= 4 && bytes[..4] != MAGIC {
            return Err(DecodeError::BadMagic(
                bytes[..4].try_into().expect("4 bytes"),
            ));
        }
        return Err(DecodeError::Truncated {
            expected: HEADER_LEN,
            found: bytes.len(),
        });
    }
    let field = |at: usize, n: usize| &bytes[at..at + n];
    let magic: [u8; 4] = field(0, 4).try_into().expect("4 bytes");
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    let version = u16::from_le_bytes(field(4, 2).try_into().expect("2 bytes"));
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let reserved = u16::from_le_bytes(field(6, 2).try_into().expect("2 bytes"));
    if reserved != 0 {
        return Err(DecodeError::ReservedBits(reserved));
    }
    let len = u32::from_le_bytes(field(8, 4).try_into().expect("4 bytes")) as usize;
    if len > MAX_PAYLOAD_LEN {
        return Err(DecodeError::TooLarge(len as u64));
    }
    let crc = u32::from_le_bytes(field(12, 4).try_into().expect("4 bytes"));
    let end = HEADER_LEN + len;
    if bytes.len() < end {
        return Err(DecodeError::Truncated {
            expected: end,
            found: bytes.len(),
        });
    }
    if bytes.len() > end {
        let trailing = &bytes[end..];
        return Err(if trailing.iter().all(|&b| b == 0) {
            DecodeError::TrailingZeros(trailing.len())
        } else {
            DecodeError::TrailingBytes(trailing.len())
        });
    }
    let payload = &bytes[HEADER_LEN..end];
    let found = crc32c::crc32c(payload);
    if found != crc {
        return Err(match zeroed_sector(bytes) {
            Some(offset) => DecodeError::ZeroedSector { offset },
            None => DecodeError::ChecksumMismatch {
                expected: crc,
                found,
            },
        });
    }
    Ok(payload)
}

/// The payload as it is on the wire: paths as plain strings, borrowed from the payload when
/// decoding and from the [`Entry`] when encoding, and checked after decoding so that an unsafe
/// path gets its own error instead of a generic decoding failure.
mod wire {
    use super::*;
    use postcard::ser_flavors::Flavor;

    #[derive(Serialize, Deserialize)]
    pub struct WireIncrement<'a> {
        path: &'a str,
        content: Content,
    }

    #[derive(Serialize, Deserialize)]
    pub struct WireUpdate<'a> {
        target: &'a str,
        #[serde(borrow)]
        temp: Option<&'a str>,
        old: Content,
        new: Content,
        #[serde(borrow)]
        increment: Option<WireIncrement<'a>>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct WireEntry<'a> {
        seq: u64,
        kind: EntryKind,
        #[serde(borrow, deserialize_with = "bounded_updates")]
        updates: Vec<WireUpdate<'a>>,
    }

    /// Decodes the update list, refusing more than [`MAX_UPDATES`] before allocating for them.
    fn bounded_updates<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<WireUpdate<'de>>, D::Error> {
        struct Bounded;
        impl<'de> serde::de::Visitor<'de> for Bounded {
            type Value = Vec<WireUpdate<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "at most {MAX_UPDATES} updates")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let too_many =
                    || serde::de::Error::custom(format_args!("more than {MAX_UPDATES} updates"));
                if seq.size_hint().is_some_and(|n| n > MAX_UPDATES) {
                    return Err(too_many());
                }
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(update) = seq.next_element()? {
                    if out.len() == MAX_UPDATES {
                        return Err(too_many());
                    }
                    out.push(update);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Bounded)
    }

    /// A postcard output that stores nothing: it compares every byte written with the payload
    /// decoded, so re-encoding what was decoded checks that the payload is canonical without
    /// building a copy of it. A difference is reported as `SerializeBufferFull`, which postcard
    /// itself never raises.
    ///
    /// Running out of payload is a difference too; being left with payload after the last byte
    /// written cannot happen: decoding consumed the whole payload, and a reader that takes the
    /// same bytes makes the same choices, so it would have stopped where the re-encoding does.
    pub struct SameAs<'a>(pub &'a [u8]);

    impl Flavor for SameAs<'_> {
        type Output = ();

        fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
            self.try_extend(&[byte])
        }

        fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
            match self.0.strip_prefix(bytes) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(())
                }
                None => Err(postcard::Error::SerializeBufferFull),
            }
        }

        fn finalize(self) -> postcard::Result<()> {
            Ok(())
        }
    }

    impl<'a> From<&'a Entry> for WireEntry<'a> {
        fn from(e: &'a Entry) -> WireEntry<'a> {
            WireEntry {
                seq: e.seq,
                kind: e.kind,
                updates: e
                    .updates
                    .iter()
                    .map(|u| WireUpdate {
                        target: u.target.as_str(),
                        temp: u.temp.as_ref().map(RelPath::as_str),
                        old: u.old,
                        new: u.new,
                        increment: u.increment.as_ref().map(|i| WireIncrement {
                            path: i.path.as_str(),
                            content: i.content,
                        }),
                    })
                    .collect(),
            }
        }
    }

    fn checked(field: &'static str, s: &str) -> Result<RelPath, DecodeError> {
        RelPath::new(s).map_err(|error| DecodeError::UnsafePath { field, error })
    }

    impl WireUpdate<'_> {
        /// The update with its paths checked, in the order target, temp, increment.
        fn checked(&self) -> Result<UpdateRecord, DecodeError> {
            Ok(UpdateRecord {
                target: checked("target", self.target)?,
                temp: self.temp.map(|t| checked("temp", t)).transpose()?,
                old: self.old,
                new: self.new,
                increment: match &self.increment {
                    Some(i) => Some(IncrementRecord {
                        path: checked("increment", i.path)?,
                        content: i.content,
                    }),
                    None => None,
                },
            })
        }
    }

    impl WireEntry<'_> {
        /// The entry, once every path is safe (the first unsafe one, in update order, is the
        /// error) and then the entry [`validate`]s.
        pub fn into_entry(self) -> Result<Entry, DecodeError> {
            let mut updates = Vec::with_capacity(self.updates.len());
            for u in &self.updates {
                updates.push(u.checked()?);
            }
            let entry = Entry {
                seq: self.seq,
                kind: self.kind,
                updates,
            };
            validate(&entry)?;
            Ok(entry)
        }
    }
}

/// The consistency rules an entry must follow beyond safe paths; [`decode`] applies them and the
/// journal applies them before writing.
pub fn validate(entry: &Entry) -> Result<(), DecodeError> {
    let invalid = |m: String| Err(DecodeError::Invalid(m));
    if entry.updates.len() > MAX_UPDATES {
        return invalid(format!(
            "{} updates, over the {MAX_UPDATES} cap",
            entry.updates.len()
        ));
    }
    if entry.kind == EntryKind::Commit && !entry.updates.is_empty() {
        return invalid("a commit record lists no updates".into());
    }
    if updates_valid(entry) {
        return Ok(());
    }
    // Something is wrong: find the first update that shows it, as the rules are checked in
    // order. Paths compare as their strings: borrowed, nothing is copied. Only membership is
    // asked, so the set's order (none) cannot change which name is reported: the first one
    // repeated.
    let mut names = std::collections::HashSet::with_capacity(entry.updates.len());
    for (index, u) in entry.updates.iter().enumerate() {
        match (&u.temp, u.new) {
            (None, Content::Absent) => {}
            (None, _) => return invalid(format!("update {index} writes content but has no temp")),
            (Some(_), Content::Absent) => {
                return invalid(format!(
                    "update {index} deletes its target but names a temp"
                ))
            }
            (Some(temp), _) => {
                let own = temp.parent_str() == u.target.parent_str()
                    && temp.file_name()
                        == Some(DerivedName::new(entry.seq, index, TEMP_SUFFIX).as_str());
                if !own {
                    return invalid(format!("update {index}'s temp {temp} is not its own"));
                }
            }
        }
        if u.old == Content::Unknown {
            return invalid(format!("update {index}'s old content is unknown"));
        }
        let paths = std::iter::once(&u.target)
            .chain(u.temp.as_ref())
            .chain(u.increment.as_ref().map(|i| &i.path));
        for p in paths {
            if !names.insert(p.as_str()) {
                return invalid(format!("{p} is named twice"));
            }
        }
    }
    Ok(())
}

/// Whether every update of `entry` passes [`validate`]'s rules on updates: the same rules, in
/// one pass that stops at nothing and finds repeated paths by sorting their hashes, the common
/// case of a valid entry made cheap. On `false` the rules are checked again in order, to report
/// the first failure.
fn updates_valid(entry: &Entry) -> bool {
    let mut names: Vec<(u64, &str)> = Vec::with_capacity(entry.updates.len() * 3);
    for (index, u) in entry.updates.iter().enumerate() {
        let temp_ok = match (&u.temp, u.new) {
            (None, Content::Absent) => true,
            (None, _) | (Some(_), Content::Absent) => false,
            (Some(temp), _) => {
                temp.parent_str() == u.target.parent_str()
                    && temp.file_name()
                        == Some(DerivedName::new(entry.seq, index, TEMP_SUFFIX).as_str())
            }
        };
        if !temp_ok || u.old == Content::Unknown {
            return false;
        }
        let paths = std::iter::once(&u.target)
            .chain(u.temp.as_ref())
            .chain(u.increment.as_ref().map(|i| &i.path));
        names.extend(paths.map(|p| {
            (
                xxhash_rust::xxh3::xxh3_64(p.as_str().as_bytes()),
                p.as_str(),
            )
        }));
    }
    // Equal paths have equal hashes, so they end up side by side once sorted by hash and path.
    names.sort_unstable();
    names.windows(2).all(|pair| pair[0] != pair[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        let target = RelPath::new("docs/a.txt").unwrap();
        Entry {
            seq: 7,
            kind: EntryKind::Intent { atomic: false },
            updates: vec![UpdateRecord {
                temp: Some(temp_path(&target, 7, 0)),
                target,
                old: Content::Absent,
                new: Content::Present(Digest::of(b"new")),
                increment: Some(IncrementRecord {
                    path: RelPath::new("inc/a.txt.1").unwrap(),
                    content: Content::Present(Digest::of(b"")),
                }),
            }],
        }
    }

    #[test]
    fn round_trips_and_has_the_documented_header() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(&bytes[..4], b"CSJE");
        assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 1);
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), HEADER_LEN + len);
        assert_eq!(decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn a_torn_tail_is_torn() {
        let bytes = encode(&sample()).unwrap();
        let err = decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }) && err.is_torn());
        let zeros = vec![0u8; bytes.len()];
        assert!(decode(&zeros).unwrap_err().is_torn());
    }
}
