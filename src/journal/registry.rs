//! The registry: the directories the journal may create temp files in without a durable entry
//! naming them first.
//!
//! A transaction that is not atomic and deletes nothing writes its temp files (and its
//! increments, under temp names) before its intent is durable, or never makes it durable (see
//! the module doc of [`crate::journal`], "Protocol"), so a crash can leave such a file durable
//! while the intent is not: an *orphan* that no entry names.
//! Recovery finds orphans by looking, in every registered directory, for the names the journal
//! gives its temp and scratch files ([`super::recover::parse_beside_name`]) that no entry in the
//! journal directory accounts for, and removes them (see [`super::recover`], "Orphans").
//!
//! For that, a directory is registered durably *before* the journal first creates a file in it
//! under such a transaction: the registry file `<journal>/<seq>.dirs` (`seq` the registering
//! transaction's number) naming it is written, and the file and the journal directory are
//! fsynced. A session trusts only its own registrations: a registry file an earlier session left
//! may never have become durable (that session may have died, or seen the fsync fail, during
//! the barrier), so each session registers the directories it uses once, with fresh operations,
//! in a file that also names every directory the registry files found name (their union: an
//! orphan may sit in any of them); once it is durable, the older files are unlinked. So the
//! journal directory holds one registry file in the steady state, and registering costs one
//! barrier per session that starts using a directory. Recovery removes a registry file that was
//! never made durable whole (torn): it names no directory a temp relies on.
//!
//! # Format
//!
//! ```text
//! crashsafe-dirs 1 <length of the whole file, decimal>\n
//! <length of a path, decimal> <the path>\n        (one line per directory; the root is "0 ")
//! crc32c <CRC-32C of everything above, 8 hex digits>\n
//! ```
//!
//! A file shorter than its header says, empty, or with a zeroed sector — the first included,
//! which no registry starts with (a write that never fully arrived, as in [`crate::format`]) —
//! is *torn*. Anything else that does not decode
//! (a wrong checksum at full length, a path that is not a safe relative path) is *bad*: recovery
//! refuses to run on it, changing nothing, since it cannot know where orphans may be.

use crate::format::TORN_SECTOR;
use crate::fs::{read_chunks, DirEntry, FileKind, Fs, FsErrorKind};
use crate::path::RelPath;
use std::collections::BTreeSet;

use super::recover::{parse_name, EntryFile};
use super::JournalError;

/// The first bytes of every registry file, before its length.
const MAGIC: &str = "crashsafe-dirs 1 ";

/// The largest registry file read: a journal registers one directory per file in the common
/// case, and never more than a batch's worth.
pub const MAX_REGISTRY_LEN: usize = 16 << 20;

/// Why a registry file's bytes do not name directories.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The file was never made durable whole: recovery removes it.
    #[error("torn: {0}")]
    Torn(String),
    /// The file is complete but wrong: recovery refuses to run.
    #[error("{0}")]
    Bad(String),
}

/// Encodes a registry file naming `dirs`.
pub fn encode(dirs: &[RelPath]) -> Vec<u8> {
    let mut body = String::new();
    for d in dirs {
        body.push_str(&format!("{} {}\n", d.as_str().len(), d.as_str()));
    }
    // The header holds the total length, which includes the header's own digits: iterate from
    // zero digits' worth to the fixed point (each step can only add digits).
    let trailer_len = "crc32c 00000000\n".len();
    let mut total = 0;
    loop {
        let candidate = MAGIC.len() + total.to_string().len() + 1 + body.len() + trailer_len;
        if candidate == total {
            break;
        }
        total = candidate;
    }
    let mut out = format!("{MAGIC}{total}\n{body}").into_bytes();
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(format!("crc32c {crc:08x}\n").as_bytes());
    debug_assert_eq!(out.len(), total);
    out
}

/// Decodes a registry file: the directories it names, or why not (see the module doc).
pub fn decode(bytes: &[u8]) -> Result<Vec<RelPath>, RegistryError> {
    let torn = |why: &str| Err(RegistryError::Torn(why.to_string()));
    let bad = |why: String| Err(RegistryError::Bad(why));
    // A fresh file whose first sector never arrived (a registry of more than one block, torn):
    // no registry starts with a zero byte.
    if bytes.iter().take(TORN_SECTOR).all(|&b| b == 0) {
        return torn("empty, or its first sector all zeros");
    }
    let Some(header_end) = bytes.iter().position(|&b| b == b'\n') else {
        return match MAGIC.as_bytes().starts_with(bytes) || is_len_prefix(bytes) {
            true => torn("the header is incomplete"),
            false => bad("not a registry file (no header)".into()),
        };
    };
    let header = std::str::from_utf8(&bytes[..header_end]).unwrap_or("");
    let Some(total) = header
        .strip_prefix(MAGIC)
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return bad("not a registry file (bad header)".into());
    };
    if bytes.len() < total {
        return torn(&format!("{} bytes of {total}", bytes.len()));
    }
    if bytes.len() > total {
        return bad(format!(
            "{} bytes where the header says {total}",
            bytes.len()
        ));
    }
    if has_zeroed_sector(bytes) {
        return torn("a sector is all zeros");
    }
    // `total` is at least the header's length (a magic and a digit: more than the trailer's).
    let trailer_len = "crc32c 00000000\n".len();
    let (content, trailer) = bytes.split_at(total - trailer_len);
    let crc = std::str::from_utf8(trailer)
        .ok()
        .and_then(|t| t.strip_prefix("crc32c "))
        .and_then(|t| t.strip_suffix('\n'))
        .and_then(|t| u32::from_str_radix(t, 16).ok());
    if crc != Some(crc32c::crc32c(content)) {
        return bad("its checksum does not match".into());
    }
    // A trailer that matched holds no newline but its last byte and does not start like a
    // header's end, so it never overlaps the header's line; checked all the same.
    let Some(body) = content.get(header_end + 1..) else {
        return bad("too short for its trailer".into());
    };
    decode_paths(body).map_err(RegistryError::Bad)
}

/// The path lines of a registry file whose checksum matched.
fn decode_paths(mut body: &[u8]) -> Result<Vec<RelPath>, String> {
    let mut dirs = Vec::new();
    while !body.is_empty() {
        let space = body
            .iter()
            .position(|&b| b == b' ')
            .ok_or("a path line has no length")?;
        let len: usize = std::str::from_utf8(&body[..space])
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or("a path line's length is not a number")?;
        let rest = &body[space + 1..];
        if rest.len() < len + 1 || rest[len] != b'\n' {
            return Err("a path line is shorter than its length".into());
        }
        let path = std::str::from_utf8(&rest[..len]).map_err(|_| "a path is not UTF-8")?;
        dirs.push(match path {
            "" => RelPath::root(),
            p => RelPath::new(p).map_err(|e| e.to_string())?,
        });
        body = &rest[len + 1..];
    }
    Ok(dirs)
}

/// Whether `bytes` could be the start of a header whose newline was not written yet.
fn is_len_prefix(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC.as_bytes()) && bytes[MAGIC.len()..].iter().all(u8::is_ascii_digit)
}

/// Whether a sector after the first is all zeros (the last one if it is at least 32 bytes).
fn has_zeroed_sector(bytes: &[u8]) -> bool {
    bytes
        .chunks(TORN_SECTOR)
        .skip(1)
        .any(|sector| sector.len() >= 32 && sector.iter().all(|&b| b == 0))
}

/// The registry as read from the journal directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    /// The directories registered, by complete registry files.
    pub dirs: BTreeSet<RelPath>,
    /// Registry files that were never made durable whole, by name, with what is wrong.
    pub torn: Vec<(String, String)>,
}

/// Reads every registry file among `names` (the journal directory's). A bad one (see the
/// module doc) or one that is not a regular file is an error naming it; nothing is changed.
pub fn load<F: Fs>(fs: &F, dir: &RelPath, names: &[DirEntry]) -> Result<Registry, JournalError> {
    let mut registry = Registry::default();
    for entry in names {
        let Some(name) = entry.name.as_str() else {
            continue;
        };
        if !matches!(parse_name(name), Some((_, EntryFile::Dirs))) {
            continue;
        }
        let refuse = |reason: String| JournalError::BadRegistry {
            file: name.to_string(),
            reason,
        };
        if entry.kind != FileKind::File {
            return Err(refuse(format!(
                "it is a {:?}, not a regular file",
                entry.kind
            )));
        }
        let mut bytes = Vec::new();
        let mut over = false;
        read_chunks(fs, &dir.join(name)?, |chunk| {
            over |= bytes.len() + chunk.len() > MAX_REGISTRY_LEN;
            if !over {
                bytes.extend_from_slice(chunk);
            }
        })?;
        if over {
            return Err(refuse(format!("it is over {MAX_REGISTRY_LEN} bytes")));
        }
        match decode(&bytes) {
            Ok(dirs) => registry.dirs.extend(dirs),
            Err(RegistryError::Torn(why)) => registry.torn.push((name.to_string(), why)),
            Err(RegistryError::Bad(why)) => return Err(refuse(why)),
        }
    }
    Ok(registry)
}

/// What a journal session knows of the registry.
#[derive(Debug, Clone, Default)]
pub(super) struct SessionRegistry {
    /// The directories the registry files present name (their union), as last seen.
    pub known: BTreeSet<RelPath>,
    /// The registry files present, as last seen.
    pub files: Vec<RelPath>,
    /// The directories this session registered durably itself.
    pub durable: BTreeSet<RelPath>,
}

impl SessionRegistry {
    /// What the journal directory's `names` show (`None`: a registry file is torn or bad, and
    /// recovery must run first); nothing registered by this session yet.
    pub fn found<F: Fs>(
        fs: &F,
        dir: &RelPath,
        names: &[DirEntry],
    ) -> Result<Option<SessionRegistry>, JournalError> {
        let registry = match load(fs, dir, names) {
            Ok(r) if r.torn.is_empty() => r,
            _ => return Ok(None),
        };
        let mut files = Vec::new();
        for n in names {
            if let Some(name) = n.name.as_str() {
                if matches!(parse_name(name), Some((_, EntryFile::Dirs))) {
                    files.push(dir.join(name)?);
                }
            }
        }
        Ok(Some(SessionRegistry {
            known: registry.dirs,
            files,
            durable: BTreeSet::new(),
        }))
    }
}

/// Checks that each registered directory is safe to look in: a directory reached without a
/// symlink, or missing (nothing to look for there). Returns the ones that exist. A registered
/// path that goes through a symlink or names something other than a directory is an error
/// naming it; nothing is changed.
pub fn existing_dirs<F: Fs>(
    fs: &F,
    registry: &Registry,
    journal: &RelPath,
) -> Result<Vec<RelPath>, JournalError> {
    let mut out = Vec::new();
    for d in &registry.dirs {
        let refuse = |what: String| JournalError::UnsafeRegisteredDir {
            dir: d.clone(),
            what,
        };
        if d.starts_with(journal) {
            return Err(refuse("the journal's own directory or inside it".into()));
        }
        match fs.stat(d) {
            Ok(Some(m)) if m.kind == FileKind::Dir => out.push(d.clone()),
            Ok(Some(m)) => return Err(refuse(format!("a {:?}, not a directory", m.kind))),
            Ok(None) => {}
            Err(e) if e.kind == FsErrorKind::NotFound => {}
            Err(e) if matches!(e.kind, FsErrorKind::Symlink | FsErrorKind::NotADirectory) => {
                return Err(refuse(format!("reached through a {}", e.kind)))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
