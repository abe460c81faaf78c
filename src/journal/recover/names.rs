//! The journal's names: what an entry file's name says (its sequence number and kind), the
//! limits on sequence numbers, the floor (see the parent module's doc, "The floor"), and which
//! names in a registered directory are the journal's temp and scratch files (see the parent
//! module's doc, "Orphans").

use super::*;

/// The kind of an entry file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFile {
    /// `<seq>.intent`
    Intent,
    /// `<seq>.commit`
    Commit,
    /// `<seq>.floor`: an empty file marking where a session's numbers start (see the module doc).
    Floor,
    /// `<seq>.dirs`: a registry file, naming directories the journal may create temp files in
    /// (see [`crate::journal::registry`]); `seq` is the transaction that registered them.
    Dirs,
    /// `<seq>.commit.rec`: the copy of a commit record that recovery writes and renames over
    /// the record to make it durable before rolling its batch forward (see the module doc,
    /// "Recovery trusts nothing it merely sees"); one found is what a recovery that stopped
    /// left, removed.
    CommitScratch,
}

/// How far past its floor a session may number transactions before it writes a new floor; a
/// new session starts at least this far above the highest floor it finds.
pub const FLOOR_SPAN: u64 = 1 << 32;

/// Parses a journal file name: 16 lowercase hex digits, a dot, `intent`, `commit`, `floor`,
/// `dirs` or `commit.rec`.
pub fn parse_name(name: &str) -> Option<(u64, EntryFile)> {
    let (seq, ext) = name.split_once('.')?;
    if !is_seq_digits(seq) {
        return None;
    }
    let kind = match ext {
        "intent" => EntryFile::Intent,
        "commit" => EntryFile::Commit,
        "floor" => EntryFile::Floor,
        "dirs" => EntryFile::Dirs,
        "commit.rec" => EntryFile::CommitScratch,
        _ => return None,
    };
    Some((u64::from_str_radix(seq, 16).ok()?, kind))
}

/// The largest sequence number a transaction may use. The one above it, `u64::MAX`, is never
/// written: an entry named with it is refused, so that "the next number" always exists.
pub const MAX_SEQ: u64 = u64::MAX - 1;

/// Sorts a name found in the journal directory: an entry file's sequence number and kind, or
/// why recovery leaves it alone.
pub(super) fn classify_name(name: &DirName) -> Result<(&str, u64, EntryFile), Refusal> {
    let name = name.as_str().ok_or(Refusal::NotUtf8Name)?;
    let (seq, kind) = parse_name(name).ok_or(Refusal::UnknownName)?;
    if seq > MAX_SEQ {
        return Err(Refusal::SequenceAtLimit);
    }
    Ok((name, seq, kind))
}

/// The sequence number the next session's first transaction takes, given every name in the
/// journal directory: above every entry name (refused ones included, so that a number is never
/// reused while its file is there) and at least [`FLOOR_SPAN`] above the highest floor (see the
/// module doc); `None` when the numbers are used up.
pub fn next_seq_after(names: &[DirEntry]) -> Option<u64> {
    let mut next = 1u64;
    for (_, seq, kind) in names.iter().filter_map(|n| classify_name(&n.name).ok()) {
        let after = match kind {
            EntryFile::Floor => seq.checked_add(FLOOR_SPAN),
            EntryFile::Intent | EntryFile::Commit | EntryFile::Dirs | EntryFile::CommitScratch => {
                seq.checked_add(1)
            }
        };
        next = next.max(after?);
    }
    Some(next)
}

/// The journal's floor: the highest floor name that is a regular file (see the module doc).
pub fn floor_of(names: &[DirEntry]) -> Option<u64> {
    floors(names).map(|(_, seq)| seq).max()
}

/// The floor files among `names`, with their numbers.
pub fn floors(names: &[DirEntry]) -> impl Iterator<Item = (&str, u64)> {
    names.iter().filter_map(|n| match classify_name(&n.name) {
        Ok((name, seq, EntryFile::Floor)) if n.kind == FileKind::File => Some((name, seq)),
        _ => None,
    })
}

/// Every name in the journal directory (none if it does not exist).
pub fn entry_files<F: Fs>(fs: &F, dir: &RelPath) -> FsResult<Vec<DirEntry>> {
    match fs.stat(dir)? {
        None => Ok(Vec::new()),
        Some(_) => fs.read_dir(dir),
    }
}

/// Whether `s` is a sequence number as names spell it: 16 lowercase hex digits.
fn is_seq_digits(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What kind of file the journal leaves beside a target under a name of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BesideFile {
    /// `.crashsafe-<seq>-<index>.tmp`: a transaction's new content before its switch.
    Temp,
    /// `.crashsafe-<seq>-<index>.rec`: recovery's scratch file.
    Scratch,
    /// `.crashsafe-<seq>-<index>.inc`: an increment before its transaction's switch (beside the
    /// increment, see [`crate::format::try_increment_temp_path`]).
    IncrementTemp,
}

/// A name the journal gives a file beside a target, parsed: exactly
/// `.crashsafe-<16 hex digits>-<decimal index>.tmp`, `.rec` or `.inc`, as
/// [`crate::format::try_temp_path`], [`crate::format::try_scratch_path`] and
/// [`crate::format::try_increment_temp_path`] spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BesideName {
    /// The transaction's sequence number.
    pub seq: u64,
    /// The update's index in it.
    pub index: usize,
    /// Temp, scratch or increment temp.
    pub kind: BesideFile,
}

/// Parses a name the journal gives a temp or scratch file (see [`BesideName`]); anything else,
/// however alike (another prefix, an index with a sign or leading zeros, a longer suffix), is
/// `None`: not the journal's.
pub fn parse_beside_name(name: &str) -> Option<BesideName> {
    let rest = name.strip_prefix(".crashsafe-")?;
    let (rest, kind) = if let Some(r) = rest.strip_suffix(".tmp") {
        (r, BesideFile::Temp)
    } else if let Some(r) = rest.strip_suffix(".inc") {
        (r, BesideFile::IncrementTemp)
    } else {
        (rest.strip_suffix(".rec")?, BesideFile::Scratch)
    };
    let (seq, index) = rest.split_once('-')?;
    if !is_seq_digits(seq)
        || index.is_empty()
        || !index.bytes().all(|b| b.is_ascii_digit())
        || (index.len() > 1 && index.starts_with('0'))
    {
        return None;
    }
    Some(BesideName {
        seq: u64::from_str_radix(seq, 16).ok()?,
        index: index.parse().ok()?,
        kind,
    })
}
