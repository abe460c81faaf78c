//! Root-relative paths made only of plain components.
//!
//! Every path the journal, the entry format and the filesystem backends handle is a [`RelPath`]:
//! checked once, when it is made, so that no code further down can be handed `..`, `/etc/passwd`
//! or a name with a NUL in it. A `RelPath` never escapes the root it is resolved under; whether a
//! component is a symlink is the backend's business (it refuses to follow one).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest path, in bytes, that a [`RelPath`] may have (Linux's `PATH_MAX` less the NUL).
pub const MAX_PATH_LEN: usize = 4095;
/// The longest single component, in bytes (Linux's `NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// Why a string is not a safe root-relative path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The string is empty.
    #[error("the path is empty")]
    Empty,
    /// The path starts with `/`.
    #[error("the path {0:?} is absolute; paths are relative to the root")]
    Absolute(String),
    /// A component is `..`.
    #[error("the path {0:?} has a `..` component")]
    ParentComponent(String),
    /// A component is `.`.
    #[error("the path {0:?} has a `.` component")]
    CurrentComponent(String),
    /// Two slashes in a row, or a trailing slash.
    #[error("the path {0:?} has an empty component")]
    EmptyComponent(String),
    /// A NUL byte, which no syscall accepts.
    #[error("the path {0:?} contains a NUL byte")]
    Nul(String),
    /// Longer than [`MAX_PATH_LEN`] or with a component longer than [`MAX_NAME_LEN`].
    #[error("the path {0:?} is too long")]
    TooLong(String),
}

/// A path relative to a root, made of one or more plain components separated by `/`, or the root
/// itself (no component), which only [`RelPath::root`] makes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(String);

impl RelPath {
    /// Checks `s` and makes a path of it.
    pub fn new(s: &str) -> Result<RelPath, PathError> {
        check(s, 0)?;
        Ok(RelPath::from_checked(s.to_owned()))
    }

    /// Wraps `s` without checking it. Invariant, which every caller upholds: `s` is empty (the
    /// root) or passes [`check`], i.e. every rule [`RelPath::new`] applies. Each caller says why.
    fn from_checked(s: String) -> RelPath {
        RelPath(s)
    }

    /// The root itself: the directory every other path is resolved under.
    pub fn root() -> RelPath {
        RelPath(String::new())
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path as a string (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, first to last (none for the root).
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The directory holding this path: the root for a one-component path, `None` for the root.
    pub fn parent(&self) -> Option<RelPath> {
        // A prefix of a checked path that ends before a `/` is itself checked.
        self.parent_str()
            .map(|dir| RelPath::from_checked(dir.to_owned()))
    }

    /// The directory holding this path as a string (`""` for the root's children), `None` for
    /// the root: [`RelPath::parent`] without making a path of it.
    pub(crate) fn parent_str(&self) -> Option<&str> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => &self.0[..i],
            None => "",
        })
    }

    /// The last component (`None` for the root).
    pub fn file_name(&self) -> Option<&str> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        })
    }

    /// This path with `name` appended; `name` may itself hold several components.
    pub fn join(&self, name: &str) -> Result<RelPath, PathError> {
        joined(&self.0, name)
    }

    /// The path `name` in this path's directory (in the root for the root itself): what
    /// `self.parent().unwrap_or_else(RelPath::root).join(name)` gives, with one allocation.
    pub fn sibling(&self, name: &str) -> Result<RelPath, PathError> {
        joined(self.parent_str().unwrap_or(""), name)
    }

    /// Whether `self` is `ancestor` or lies below it.
    pub fn starts_with(&self, ancestor: &RelPath) -> bool {
        ancestor.is_root()
            || self.0 == ancestor.0
            || (self.0.starts_with(&ancestor.0) && self.0.as_bytes()[ancestor.0.len()] == b'/')
    }
}

/// Checks every rule of [`RelPath::new`] on `s`, of which the first `known` bytes are already
/// known to be a checked path followed by `/` (0 when nothing is known). Only the components
/// after them are looked at; an error quotes the whole of `s`, as checking all of it would.
fn check(s: &str, known: usize) -> Result<(), PathError> {
    if s.is_empty() {
        return Err(PathError::Empty);
    }
    if s.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong(truncated(s)));
    }
    // A checked prefix has no NUL and does not start with `/` (it has at least one component).
    // Bytes, not chars: `/`, `.` and NUL are ASCII, which no other UTF-8 character contains.
    let rest = &s.as_bytes()[known..];
    if rest.contains(&0) {
        return Err(PathError::Nul(s.to_owned()));
    }
    if s.starts_with('/') {
        return Err(PathError::Absolute(s.to_owned()));
    }
    for component in rest.split(|&b| b == b'/') {
        match component {
            b"" => return Err(PathError::EmptyComponent(s.to_owned())),
            b"." => return Err(PathError::CurrentComponent(s.to_owned())),
            b".." => return Err(PathError::ParentComponent(s.to_owned())),
            c if c.len() > MAX_NAME_LEN => return Err(PathError::TooLong(truncated(s))),
            _ => {}
        }
    }
    Ok(())
}

/// `dir` (a checked path's string, `""` for the root) with `name` appended, checked: the
/// components of `dir` are not looked at again.
fn joined(dir: &str, name: &str) -> Result<RelPath, PathError> {
    if dir.is_empty() {
        return RelPath::new(name);
    }
    let s = [dir, "/", name].concat();
    check(&s, dir.len() + 1)?;
    // Checked just above.
    Ok(RelPath::from_checked(s))
}

fn truncated(s: &str) -> String {
    s.chars().take(64).collect::<String>() + "…"
}

impl TryFrom<String> for RelPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, PathError> {
        check(&s, 0)?;
        // Checked just above; the string is kept, not copied.
        Ok(RelPath::from_checked(s))
    }
}

impl From<RelPath> for String {
    fn from(p: RelPath) -> String {
        p.0
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_components() {
        let p = RelPath::new("a/b/c.txt").unwrap();
        assert_eq!(p.components().collect::<Vec<_>>(), ["a", "b", "c.txt"]);
        assert_eq!(p.parent().unwrap().as_str(), "a/b");
        assert_eq!(p.file_name(), Some("c.txt"));
        assert!(RelPath::new("x").unwrap().parent().unwrap().is_root());
        assert!(RelPath::new("...").is_ok(), "three dots is a plain name");
    }

    #[test]
    fn rejects_each_unsafe_form_with_its_own_error() {
        assert_eq!(RelPath::new(""), Err(PathError::Empty));
        assert!(matches!(
            RelPath::new("/etc/passwd"),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(
            RelPath::new("../x"),
            Err(PathError::ParentComponent(_))
        ));
        assert!(matches!(
            RelPath::new("a/../../x"),
            Err(PathError::ParentComponent(_))
        ));
        assert!(matches!(
            RelPath::new("./x"),
            Err(PathError::CurrentComponent(_))
        ));
        assert!(matches!(
            RelPath::new("a//b"),
            Err(PathError::EmptyComponent(_))
        ));
        assert!(matches!(
            RelPath::new("a/"),
            Err(PathError::EmptyComponent(_))
        ));
        assert!(matches!(RelPath::new("a\0b"), Err(PathError::Nul(_))));
        assert!(matches!(
            RelPath::new(&"n".repeat(256)),
            Err(PathError::TooLong(_))
        ));
        assert!(matches!(
            RelPath::new(&"a/".repeat(2048)),
            Err(PathError::TooLong(_))
        ));
    }

    #[test]
    fn starts_with_respects_component_boundaries() {
        let j = RelPath::new(".crashsafe/journal").unwrap();
        assert!(RelPath::new(".crashsafe/journal/1.intent")
            .unwrap()
            .starts_with(&j));
        assert!(!RelPath::new(".crashsafe/journalx").unwrap().starts_with(&j));
        assert!(j.starts_with(&RelPath::root()));
    }

    #[test]
    fn deserializing_checks_the_path() {
        let bytes = postcard::to_allocvec(&"../escape".to_string()).unwrap();
        assert!(postcard::from_bytes::<RelPath>(&bytes).is_err());
    }
}
