//! The journal directory's names: what an entry file's name says (its sequence number and
//! kind), the limits on sequence numbers, and the floor (see the parent module's doc, "The
//! floor").

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
}

/// How far past its floor a session may number transactions before it writes a new floor; a
/// new session starts at least this far above the highest floor it finds.
pub const FLOOR_SPAN: u64 = 1 << 32;

/// Parses a journal file name: 16 lowercase hex digits, a dot, `intent`, `commit` or `floor`.
pub fn parse_name(name: &str) -> Option<(u64, EntryFile)> {
    let (seq, ext) = name.split_once('.')?;
    if seq.len() != 16
        || !seq
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let kind = match ext {
        "intent" => EntryFile::Intent,
        "commit" => EntryFile::Commit,
        "floor" => EntryFile::Floor,
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
            EntryFile::Intent | EntryFile::Commit => seq.checked_add(1),
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
