//! Entry files decoded once per thread: recovery's **load** step decodes an entry file's bytes
//! through [`decode`], which gives back the entry decoded and validated earlier on this thread
//! when the bytes are the same, with the names recovery derives for each of its updates
//! ([`UpdateNames`]).
//!
//! Why this changes no result: decoding ([`crate::format::decode`], validation included) is a
//! function of the bytes alone, and so are the derived names (of the entry alone). A memo slot
//! is found by the bytes' 128-bit xxh3 hash and then used only if its bytes are equal to the
//! ones read, byte for byte: the hash only narrows the search. Only successful decodings are
//! kept; an entry that fails to decode is decoded again each time, with the same error.
//!
//! What it costs a single recovery: one hash and one copy of each entry file's bytes (entries up
//! to [`MEMO_MAX_LEN`] bytes; longer ones are decoded as before and not kept). What it saves
//! when one thread recovers the same journal over and over (the crash-consistency harness
//! recovers each crash state it keeps, and most states of one crash point hold the same entry):
//! the decoding, its allocations (one per path) and the derivation of the names, per state.
//! Memory: at most [`MEMO_SLOTS`] entries per thread, each at most [`MEMO_MAX_LEN`] bytes plus
//! its decoded form.

use crate::format::{self, DecodeError, Entry, EntryKind};
use crate::journal::commit::Shape;
use crate::path::RelPath;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// How many decoded entries a thread keeps.
pub const MEMO_SLOTS: usize = 4;
/// The longest entry file, in bytes, a thread keeps decoded.
pub const MEMO_MAX_LEN: usize = 64 * 1024;

/// An entry decoded and validated, with the names recovery derives for each of its updates.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The entry.
    pub(crate) entry: Entry,
    /// The derived names of each update, in the entry's order.
    pub(crate) names: Vec<UpdateNames>,
}

/// The names recovery derives for one update of an entry (never recorded: see
/// [`crate::format::try_scratch_path`] and [`crate::format::try_increment_temp_path`]); those
/// that do not fit in a path are left out, as recovery's observe step leaves them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpdateNames {
    /// The increment's temp name, for an entry whose shape stages its increments
    /// ([`Shape::stages_increments`]) and an update with an increment.
    pub(crate) increment_temp: Option<RelPath>,
    /// The scratch names beside the target and beside the increment, in that order, each once
    /// (the two are the same path when target and increment share a directory).
    pub(crate) scratches: Vec<RelPath>,
}

impl Decoded {
    /// The entry with its updates' derived names.
    pub(crate) fn new(entry: Entry) -> Decoded {
        let atomic = matches!(entry.kind, EntryKind::Intent { atomic: true });
        let staged = Shape::of(atomic, entry.updates.iter()).stages_increments();
        let names = entry
            .updates
            .iter()
            .enumerate()
            .map(|(index, u)| {
                let increment = u.increment.as_ref().map(|i| &i.path);
                let increment_temp = increment
                    .filter(|_| staged)
                    .and_then(|i| format::try_increment_temp_path(i, entry.seq, index).ok());
                let mut scratches: Vec<RelPath> = Vec::with_capacity(2);
                for beside in std::iter::once(&u.target).chain(increment) {
                    if let Ok(scratch) = format::try_scratch_path(beside, entry.seq, index) {
                        if !scratches.contains(&scratch) {
                            scratches.push(scratch);
                        }
                    }
                }
                UpdateNames {
                    increment_temp,
                    scratches,
                }
            })
            .collect();
        Decoded { entry, names }
    }
}

/// One decoded entry kept, with the bytes it was decoded from.
struct Slot {
    hash: u128,
    bytes: Box<[u8]>,
    decoded: Rc<Decoded>,
}

/// A thread's decoded entries, the most recently used first.
#[derive(Default)]
struct Memo {
    slots: VecDeque<Slot>,
}

impl Memo {
    /// The entry decoded from exactly `bytes`, if kept (moved to the front).
    fn get(&mut self, hash: u128, bytes: &[u8]) -> Option<Rc<Decoded>> {
        let at = self
            .slots
            .iter()
            .position(|s| s.hash == hash && *s.bytes == *bytes)?;
        let slot = self.slots.remove(at)?;
        let decoded = Rc::clone(&slot.decoded);
        self.slots.push_front(slot);
        Some(decoded)
    }

    /// Keeps `decoded` as decoded from `bytes`, dropping the least recently used beyond
    /// [`MEMO_SLOTS`].
    fn put(&mut self, hash: u128, bytes: &[u8], decoded: Rc<Decoded>) {
        self.slots.truncate(MEMO_SLOTS - 1);
        self.slots.push_front(Slot {
            hash,
            bytes: bytes.into(),
            decoded,
        });
    }
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// [`crate::format::decode`] of `bytes`, with the derived names: the result kept on this thread
/// for the same bytes if any, otherwise decoded now (and kept, if it decodes and is short
/// enough). See the module doc.
pub(crate) fn decode(bytes: &[u8]) -> Result<Rc<Decoded>, DecodeError> {
    if bytes.len() > MEMO_MAX_LEN {
        return format::decode(bytes).map(|e| Rc::new(Decoded::new(e)));
    }
    let hash = xxhash_rust::xxh3::xxh3_128(bytes);
    if let Some(kept) = MEMO.with(|m| m.borrow_mut().get(hash, bytes)) {
        return Ok(kept);
    }
    let decoded = Rc::new(Decoded::new(format::decode(bytes)?));
    MEMO.with(|m| m.borrow_mut().put(hash, bytes, Rc::clone(&decoded)));
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Content, Digest, IncrementRecord, UpdateRecord};

    fn path(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    fn entry(seq: u64, atomic: bool, temp: bool) -> Entry {
        let update = |i: usize| UpdateRecord {
            target: path(&format!("d/f{i}")),
            temp: temp.then(|| format::temp_path(&path(&format!("d/f{i}")), seq, i)),
            old: Content::Absent,
            new: Content::Present(Digest::of(b"new")),
            increment: Some(IncrementRecord {
                path: path(&format!("inc/f{i}.inc")),
                content: Content::Present(Digest::of(b"inc")),
            }),
        };
        Entry {
            seq,
            kind: EntryKind::Intent { atomic },
            updates: (0..3).map(update).collect(),
        }
    }

    #[test]
    fn the_same_bytes_give_the_entry_decoded_before_and_other_bytes_their_own() {
        let first = format::encode(&entry(7, true, true)).unwrap();
        let a = decode(&first).unwrap();
        let again = decode(&first.clone()).unwrap();
        assert!(Rc::ptr_eq(&a, &again), "equal bytes reuse the decoding");
        assert_eq!(a.entry, format::decode(&first).unwrap());
        // Another entry, and then one byte of the first changed: neither is taken for it.
        let other = format::encode(&entry(8, true, true)).unwrap();
        let b = decode(&other).unwrap();
        assert_eq!(b.entry.seq, 8);
        assert!(!Rc::ptr_eq(&a, &b));
        let mut torn = first.clone();
        let last = torn.len() - 1;
        torn[last] ^= 1;
        assert_eq!(
            decode(&torn).unwrap_err(),
            format::decode(&torn).unwrap_err()
        );
        assert_eq!(
            decode(&torn).unwrap_err(),
            format::decode(&torn).unwrap_err()
        );
        assert!(Rc::ptr_eq(&a, &decode(&first).unwrap()));
    }

    #[test]
    fn a_thread_keeps_at_most_its_slots_the_least_recently_used_dropped() {
        let bytes: Vec<Vec<u8>> = (0..=MEMO_SLOTS as u64)
            .map(|seq| format::encode(&entry(100 + seq, false, true)).unwrap())
            .collect();
        let kept: Vec<_> = bytes.iter().map(|b| decode(b).unwrap()).collect();
        // The first was used least recently: decoded again, a new value equal to the old.
        let first = decode(&bytes[0]).unwrap();
        assert!(!Rc::ptr_eq(&first, &kept[0]));
        assert_eq!(first.entry, kept[0].entry);
        // The last is still kept.
        assert!(Rc::ptr_eq(
            &decode(&bytes[MEMO_SLOTS]).unwrap(),
            &kept[MEMO_SLOTS]
        ));
    }

    #[test]
    fn the_derived_names_are_the_formats_for_each_update() {
        for (atomic, temp) in [(true, true), (false, true), (false, false)] {
            let e = entry(0x1234, atomic, temp);
            let staged = !atomic && temp;
            let d = Decoded::new(e.clone());
            assert_eq!(d.names.len(), e.updates.len());
            for (i, (u, names)) in e.updates.iter().zip(&d.names).enumerate() {
                let inc = &u.increment.as_ref().unwrap().path;
                let inc_temp = format::try_increment_temp_path(inc, e.seq, i).unwrap();
                assert_eq!(names.increment_temp, staged.then_some(inc_temp));
                let scratches = vec![
                    format::try_scratch_path(&u.target, e.seq, i).unwrap(),
                    format::try_scratch_path(inc, e.seq, i).unwrap(),
                ];
                assert_eq!(names.scratches, scratches);
            }
        }
        // Target and increment in one directory: one scratch name.
        let mut e = entry(3, true, true);
        e.updates[0].increment.as_mut().unwrap().path = path("d/f0.inc");
        let d = Decoded::new(e);
        assert_eq!(
            d.names[0].scratches,
            vec![path("d/.crashsafe-0000000000000003-0.rec")]
        );
    }

    #[test]
    fn entries_over_the_memos_limit_are_decoded_each_time() {
        let mut e = entry(9, false, true);
        let long = "x".repeat(200);
        e.updates = (0..400)
            .map(|i| UpdateRecord {
                target: path(&format!("d/{long}{i}")),
                temp: None,
                old: Content::Absent,
                new: Content::Absent,
                increment: None,
            })
            .collect();
        let bytes = format::encode(&e).unwrap();
        assert!(bytes.len() > MEMO_MAX_LEN);
        let a = decode(&bytes).unwrap();
        let b = decode(&bytes).unwrap();
        assert!(!Rc::ptr_eq(&a, &b));
        assert_eq!(a.entry, b.entry);
    }
}
