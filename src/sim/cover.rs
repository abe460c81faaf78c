//! Clean parts: a crash state none of whose parts can show a violation is not checked (issue 11).
//!
//! # The parts of an image
//!
//! A subject's [`Factoring`] splits the paths of any image into the shared paths and one set
//! per factor. An image's *parts* are its shared part σ (what it holds at its shared paths:
//! each path's kind, bytes, mode and number of names, as [`Image::fingerprint`] sees them) and
//! one part φᵢ per factor (the same, at that factor's paths). Together they are the whole
//! visible tree. The *key* of factor `i` of a crash state seen with `a` acknowledgements is
//! (a, σ, i, φᵢ), hashed to 128 bits like a fingerprint ([`PartGroups::keys`]).
//!
//! # What a subject promises, read on images
//!
//! The promises of [`super::factor`] are about the paths recovery and the check read and write,
//! so they hold of any two crash images, not only of two states of one crash point: (1) if
//! recovery fails on an image, some single group (the shared paths, or the shared paths and one
//! factor's) makes it fail: it fails on every image with the same parts there; if it succeeds
//! on two images with the same σ and φᵢ, the two recovered images have the same parts at the
//! shared paths and at factor `i`'s; (2) the verdict of a recovered image (recovery run again,
//! the check) is the union, over the shared paths and each factor, of a function of the setup,
//! the acks and the recovered image's parts there (with the shared part). The journal's subject
//! argues both in `src/check/workload.rs` (`Workload::factoring`): its recovery reads the
//! journal directory and, per update, that update's own paths, by name.
//!
//! # What the explorer does with it, and why that loses nothing
//!
//! After a state is checked and found clean (no violation at all), the keys of all its factors
//! are recorded. A state that would not be explored any deeper (no crash inside its recovery:
//! its remaining depth is 0) and whose every key is recorded is skipped: not recovered, not
//! checked, not counted as a distinct state.
//!
//! Take such a state `N`, seen with acks `a`: for each factor `i` a clean state `Mᵢ` was
//! checked with the same acks (the same run, or the fault-free run for acks it shares: see
//! `engine::Seen`), the same σ and the same φᵢ. Recovery succeeds on `N`: by (1) a failure
//! would be caused by σ alone or by σ and some φⱼ, and would then also fail on `Mⱼ`, which
//! recovered. By (1) again, `N` recovers to an image with the parts of `Mᵢ`'s recovered image at
//! the shared paths and at factor `i`'s, for each `i`; so by (2) each term of `N`'s verdict is a
//! term of some `Mᵢ`'s, which are all empty. `N` is clean: skipping it loses no violation, and
//! no state below it, since none would be explored. Counts of violations, counterexamples and
//! crash states are unchanged; only `distinct_states` is smaller.
//!
//! Where factors form an agreement group (an atomic batch: see `super::factor`, "Agreement
//! groups"), `N`'s verdict has one more term, the group's disagreement, and no single `Mᵢ`
//! shows all of `N`'s outcomes. Promise 3 of `super::factor` closes the gap: `N` and `Mᵢ` have
//! the same σ and the same part in factor `i`, so the same decision, `d` say; each `Mᵢ` is
//! clean, so each of its outcomes, `oᵢ(Mᵢ)` among them, is the one `d` gives; and by (1)
//! `oᵢ(N) = oᵢ(Mᵢ)`. Every outcome of `N` is the one `d` gives: no disagreement.
//!
//! Crash states inside a recovery are where this pays: two top-level states that differ in one
//! factor have recoveries that act alike on every other factor, so the states inside them
//! repeat factor by factor (and a run with an injected fault repeats the fault-free run's).
//!
//! # Determinism
//!
//! The states of one batch of crash points are checked in parallel. Each sees the keys recorded
//! before its batch began and those of the states of its own subtree (checked in order); the
//! keys found in a batch are added when the batch ends. So what is skipped does not depend on
//! the thread count.

use super::factor::Factoring;
use super::image::Image;
use super::unbuilt::EntryChange;
use crate::path::RelPath;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// Computes the keys of crash states' parts under one subject's factoring.
pub(crate) struct PartGroups {
    factoring: Factoring,
    /// Each path met so far, with its group (0: shared; `i + 1`: factor `i`): a cache of
    /// [`Factoring::factor_of_path`], looked up once per path of every state keyed, so a hash
    /// map (its order is never observed).
    group_of: Mutex<HashMap<String, usize, Xxh3DefaultBuilder>>,
}

impl PartGroups {
    /// The groups of `factoring`, if it has two factors or more (with one, a state's only key
    /// covers its whole tree, which deduplication by fingerprint already does).
    pub(crate) fn new(factoring: Option<&Factoring>) -> Option<PartGroups> {
        let factoring = factoring.filter(|f| f.len() >= 2)?;
        Some(PartGroups {
            factoring: factoring.clone(),
            group_of: Mutex::new(HashMap::default()),
        })
    }

    /// The keys of `image`'s factors, seen with `acks` acknowledgements, one per factor in
    /// factor order (see the module doc).
    pub(crate) fn keys(&self, image: &Image, acks: usize) -> Vec<u128> {
        self.keys_of(&self.hashes(image), acks)
    }

    /// The part hashes of `image`: its shared part's, then each factor's
    /// ([`Image::group_hashes`]).
    pub(crate) fn hashes(&self, image: &Image) -> Vec<u128> {
        let mut known = self.group_of.lock().unwrap_or_else(|e| e.into_inner());
        image.group_hashes(self.factoring.len() + 1, &mut |path| {
            self.group(&mut known, path)
        })
    }

    /// [`PartGroups::hashes`] of `image`, from those of `reference` (`reference_hashes`): the
    /// same values, computed from the paths where the two trees differ
    /// ([`Image::group_hashes_from`]).
    pub(crate) fn hashes_from(
        &self,
        image: &Image,
        reference: &Image,
        reference_hashes: &[u128],
    ) -> Vec<u128> {
        let mut known = self.group_of.lock().unwrap_or_else(|e| e.into_inner());
        image.group_hashes_from(reference, reference_hashes, &mut |path| {
            self.group(&mut known, path)
        })
    }

    /// [`PartGroups::hashes`] of a state that differs from an image whose hashes are
    /// `reference_hashes` only at the entries `changes` lists ([`super::unbuilt`]): each
    /// entry's old hash taken out of its path's group, its new one added.
    pub(crate) fn hashes_changed(
        &self,
        reference_hashes: &[u128],
        changes: &[EntryChange<'_>],
    ) -> Vec<u128> {
        let mut sums = reference_hashes.to_vec();
        if changes.is_empty() {
            return sums;
        }
        let mut known = self.group_of.lock().unwrap_or_else(|e| e.into_inner());
        for change in changes {
            let g = self.group(&mut known, change.path.as_str());
            sums[g] = sums[g]
                .wrapping_sub(change.before)
                .wrapping_add(change.after);
        }
        sums
    }

    /// The group of `path` (0: shared; `i + 1`: factor `i`), through the cache `known`.
    fn group(&self, known: &mut HashMap<String, usize, Xxh3DefaultBuilder>, path: &str) -> usize {
        if let Some(&g) = known.get(path) {
            return g;
        }
        let g = RelPath::new(path)
            .ok()
            .and_then(|p| self.factoring.factor_of_path(&p))
            .map_or(0, |f| f as usize + 1);
        known.insert(path.to_owned(), g);
        g
    }

    /// The keys of the factors of a state whose part hashes are `hashes`, seen with `acks`
    /// acknowledgements, one per factor in factor order.
    pub(crate) fn keys_of(&self, hashes: &[u128], acks: usize) -> Vec<u128> {
        let mut bytes = [0u8; 8 + 16 + 4 + 16];
        bytes[..8].copy_from_slice(&(acks as u64).to_le_bytes());
        bytes[8..24].copy_from_slice(&hashes[0].to_le_bytes());
        (1..hashes.len())
            .map(|g| {
                bytes[24..28].copy_from_slice(&(g as u32).to_le_bytes());
                bytes[28..].copy_from_slice(&hashes[g].to_le_bytes());
                xxhash_rust::xxh3::xxh3_128(&bytes)
            })
            .collect()
    }
}

/// The keys of the factors of clean states checked so far (see the module doc). Only asked
/// whether it holds a key, never listed, so a hash set: the keys are themselves 128-bit hashes,
/// and their low 64 bits are the set's hash ([`KeyHasher`]).
#[derive(Default)]
pub(crate) struct CleanParts(HashSet<u128, BuildHasherDefault<KeyHasher>>);

/// Hashes a key of [`CleanParts`] to its own low 64 bits: a key is an xxh3-128 hash already.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `u128` keys (`write_u128`); any other input is folded in, whole.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 ^= key as u64;
    }
}

impl CleanParts {
    /// Whether `key` was recorded.
    pub(crate) fn contains(&self, key: u128) -> bool {
        self.0.contains(&key)
    }

    /// Records `keys`.
    pub(crate) fn extend(&mut self, keys: impl IntoIterator<Item = u128>) {
        self.0.extend(keys);
    }

    /// Records the keys `other` recorded.
    pub(crate) fn merge(&mut self, other: CleanParts) {
        self.0.extend(other.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::factor::PathSet;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn a_factors_key_follows_its_own_paths_the_shared_ones_and_the_acks_only() {
        let factoring = Factoring::new(vec![
            vec![PathSet::Path(p("d/a"))],
            vec![PathSet::Path(p("d/b"))],
        ]);
        let groups = PartGroups::new(Some(&factoring)).unwrap();
        let image = |a: &[u8], b: &[u8], shared: &[u8]| {
            let mut i = Image::new();
            i.put_file(&p("d/a"), a);
            i.put_file(&p("d/b"), b);
            i.put_file(&p("j/entry"), shared);
            i
        };
        let base = groups.keys(&image(b"1", b"1", b"e"), 0);
        assert_eq!(base.len(), 2);
        let other_b = groups.keys(&image(b"1", b"2", b"e"), 0);
        assert_eq!(other_b[0], base[0], "a's key does not see b");
        assert_ne!(other_b[1], base[1], "b's key sees b");
        let other_shared = groups.keys(&image(b"1", b"1", b"f"), 0);
        assert!(other_shared.iter().zip(&base).all(|(x, y)| x != y));
        let other_acks = groups.keys(&image(b"1", b"1", b"e"), 1);
        assert!(other_acks.iter().zip(&base).all(|(x, y)| x != y));
        let mut without_a = image(b"1", b"1", b"e");
        without_a.put_file(&p("d/a"), b"");
        assert_ne!(groups.keys(&without_a, 0)[0], base[0], "a's bytes count");
        assert!(
            PartGroups::new(Some(&Factoring::new(vec![vec![PathSet::Path(p("d/a"))]]))).is_none()
        );
    }
}
