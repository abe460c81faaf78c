//! The depth-first check of one top-level crash state's subtree: the state checked, then the
//! crash states inside its recovery, to the remaining depth, each keyed (before it is built
//! where [`crate::sim::unbuilt`] can tell its keys) and skipped when its every part was seen
//! clean, deduplicated within the subtree, and visited in turn.

use super::{check_state_with, sample_seed, Item, Outcome, Run, Seen, Shared};
use crate::sim::cover::PartGroups;
use crate::sim::explore::Subject;
use crate::sim::image::Image;
use crate::sim::states::{CrashPoint, CrashWalk, DeriveMemo};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

/// The depth-first check of one top-level item's subtree: what it shares, where it is, what
/// it has seen and found.
pub(super) struct Nest<'n, 's, 'w, S: Subject> {
    pub(super) sh: &'n Shared<'s, S>,
    pub(super) run: &'n Run<S::Ack>,
    /// What the run had checked when this item's batch began.
    pub(super) before: &'n Seen,
    pub(super) item: &'n Item<'w>,
    /// The path of the state being visited.
    pub(super) path: Vec<(usize, usize)>,
    /// The subtree's states by fingerprint, with the remaining depth they were visited at.
    pub(super) seen: BTreeMap<u128, usize>,
    pub(super) out: Outcome,
}

impl<S: Subject> Nest<'_, '_, '_, S> {
    /// Checks `image`, the state at `self.path`, then the crash states inside its recovery to
    /// `remaining` more levels.
    pub(super) fn visit(&mut self, image: &Image, remaining: usize, keys: Option<Vec<u128>>) {
        let sh = self.sh;
        let keys = keys.or_else(|| self.keys(image));
        if remaining == 0 && keys.as_ref().is_some_and(|k| self.all_clean(k)) {
            // Clean, as its parts were (see `sim::cover`), and nothing below it to explore.
            return;
        }
        self.out.distinct += 1;
        let top = self.item.path[0].0;
        let acks = &self.run.acks.entries()[..self.item.acks];
        let (violations, recovery) = check_state_with(
            sh.subject,
            &sh.setup,
            image,
            acks,
            top,
            Some(&self.before.verdicts),
        );
        if let Some(keys) = keys.filter(|_| violations.is_empty()) {
            self.out.clean.extend(keys);
        }
        let path = &self.path;
        self.out
            .violations
            .extend(violations.into_iter().map(|v| (path.clone(), v)));
        let Some(rtrace) = recovery.filter(|t| remaining > 0 && !t.is_empty()) else {
            return;
        };
        let res = sh.model.resolve(&rtrace);
        let walk = CrashWalk::new(sh.model, image, &rtrace, &res, sh.config.block_size)
            .factored(sh.factoring())
            .keeping_prefixes();
        let parent_fp = sh.state_fp(image);
        let deeper = (remaining >= 2 && sh.config.recovery_fanout > 0)
            .then(|| self.chosen_deeper(&walk, parent_fp, remaining));
        self.visit_recovery(walk, parent_fp, remaining, deeper.as_ref());
    }

    /// The keys of `image`'s parts, seen with this item's acks ([`crate::sim::cover`]), if the
    /// subject has factors.
    fn keys(&self, image: &Image) -> Option<Vec<u128>> {
        let parts = self.sh.parts.as_ref()?;
        Some(parts.keys(image, self.item.acks))
    }

    /// [`Nest::keys`] of `image`, a state built on `base`, from that image's part `hashes` (the
    /// same keys, hashing only the paths where the two differ).
    fn keys_from(&self, image: &Image, (base, hashes): (&Image, &[u128])) -> Option<Vec<u128>> {
        let parts = self.sh.parts.as_ref()?;
        let hashes = parts.hashes_from(image, base, hashes);
        Some(parts.keys_of(&hashes, self.item.acks))
    }

    /// The keys of the state `choice` names at `point` (a crash point of a walk keeping
    /// prefixes), computed without building it ([`CrashPoint::changed_entries`]) from the part
    /// hashes of whichever of `references` it departs from in fewer pending operations; `None`
    /// when the subject has no factors or that computation gives up.
    fn unbuilt_keys(
        &self,
        point: &CrashPoint<'_>,
        choice: &[u16],
        derive: &DeriveMemo<'_>,
        references: &mut References,
    ) -> Option<Vec<u128>> {
        let parts = self.sh.parts.as_ref()?;
        let departures =
            |reference: &[u16]| reference.iter().zip(choice).filter(|(r, c)| r != c).count();
        let from_lost = departures(&references.lost) < departures(&references.full);
        let (reference, hashes) = if from_lost {
            references.hash_lost(point, parts, derive);
            (&references.lost, references.lost_hashes.as_deref()?)
        } else {
            let all = point.all_persisted_prefix();
            (&references.full, point.prefix_memo(all, derive))
        };
        let changes = point.changed_entries(reference, choice)?;
        let hashes = parts.hashes_changed(hashes, &changes);
        Some(parts.keys_of(&hashes, self.item.acks))
    }

    /// Whether every one of `keys` (a state's, see [`crate::sim::cover`]) was recorded clean, before
    /// this item's batch or in this item's subtree.
    fn all_clean(&self, keys: &[u128]) -> bool {
        let acks = self.item.acks;
        keys.iter()
            .all(|&k| self.out.clean.contains(k) || self.before.clean(k, acks))
    }

    /// `state`, built at a crash point of the recovery of the state whose fingerprint is
    /// `parent_fp`, as a child to visit, unless there is nothing to visit.
    ///
    /// A state that will go no deeper (`deeper` does not choose it, or `remaining` is 1) and
    /// whose every part was already seen clean is dropped here (when `remaining` is 1, before
    /// it is fingerprinted; when the choice of the fan-out fingerprinted it, with the
    /// fingerprint computed there): [`Nest::visit`] would skip it (the keys recorded clean only
    /// grow), and leaving it out of `seen` changes nothing either, since a state met again in
    /// this subtree is dropped or skipped the same way. Only the states kept are deduplicated.
    /// [`Nest::visit_recovery`] drops such a state before building it where its keys can be
    /// told unbuilt: the same decision, on the same keys.
    fn child(
        &mut self,
        state: Built<'_>,
        parent_fp: u128,
        remaining: usize,
        deeper: Option<&Deeper>,
    ) -> Option<Child> {
        let Built {
            image,
            index,
            reference,
            keys: known,
            fp: known_fp,
        } = state;
        let (fp, depth) = if remaining == 1 {
            (None, 0)
        } else {
            debug_assert!(
                known_fp.is_none_or(|fp| fp == self.sh.state_fp(&image)),
                "a fingerprint kept from the choice of the fan-out is the state's"
            );
            let fp = known_fp.unwrap_or_else(|| self.sh.state_fp(&image));
            match deeper {
                Some(d) if !d.chosen.contains(&fp) => (Some(fp), 0),
                _ => (Some(fp), remaining - 1),
            }
        };
        let keys = match (depth, reference, known) {
            (0, _, Some(known)) => {
                debug_assert_eq!(
                    Some(&known),
                    self.keys(&image).as_ref(),
                    "keys told from the operations are the built state's"
                );
                Some(known)
            }
            (0, Some(reference), None) => self.keys_from(&image, reference),
            (0, None, None) => self.keys(&image),
            _ => None,
        };
        if keys.as_ref().is_some_and(|k| self.all_clean(k)) {
            return None;
        }
        let fp = fp.unwrap_or_else(|| self.sh.state_fp(&image));
        if !fresh(&self.seen, parent_fp, fp, depth) {
            return None;
        }
        self.seen.insert(fp, depth);
        Some(Child {
            index,
            image,
            depth,
            keys,
        })
    }

    /// Which states of the recovery `walk` goes over go one level deeper: `recovery_fanout` of
    /// them in all, the smallest fingerprints among the fresh ones (a spread independent of
    /// order); with every state's fingerprint, for [`Nest::visit_recovery`] to reuse.
    fn chosen_deeper(&self, walk: &CrashWalk<'_>, parent_fp: u128, remaining: usize) -> Deeper {
        let bounds = self.sh.bounds_at(self.run.kind(), self.path.len());
        let mut fresh_fps = BTreeSet::new();
        let mut fps = Vec::new();
        let mut walk = walk.clone();
        for cp in 0..=walk.last_point() {
            let point = walk.point(cp).only_new_after(0);
            let seed = sample_seed(self.sh.config.seed, self.run.fault, &self.path, cp);
            let mut here = Vec::new();
            point.for_each_state(bounds, seed, |_, choice| {
                let fp = self.sh.state_fp(&point.build(choice));
                if fresh(&self.seen, parent_fp, fp, remaining - 1) {
                    fresh_fps.insert(fp);
                }
                here.push(fp);
                ControlFlow::Continue(())
            });
            fps.push(here);
        }
        let chosen = fresh_fps
            .into_iter()
            .take(self.sh.config.recovery_fanout)
            .collect();
        Deeper { chosen, fps }
    }

    /// Visits the fresh states at every crash point of the recovery `walk` goes over, those
    /// `deeper` chose (all, when `None`) with `remaining - 1` levels to go, the others with
    /// none.
    fn visit_recovery(
        &mut self,
        mut walk: CrashWalk<'_>,
        parent_fp: u128,
        remaining: usize,
        deeper: Option<&Deeper>,
    ) {
        let bounds = *self.sh.bounds_at(self.run.kind(), self.path.len());
        let parts = self.sh.parts.as_ref();
        let derive = derive_hashes(parts);
        for cp in 0..=walk.last_point() {
            self.out.crash_points += 1;
            let point = walk.point(cp).only_new_after(0);
            let seed = sample_seed(self.sh.config.seed, self.run.fault, &self.path, cp);
            let mut children: Vec<Child> = Vec::new();
            let mut references = References::of(&point);
            // The fingerprints the choice of the fan-out computed, in the same order.
            let mut known_fps = deeper.map(|d| d.fps[cp].iter().copied());
            point.for_each_state(&bounds, seed, |index, choice| {
                self.out.crash_states += 1;
                let fp = known_fps.as_mut().and_then(|fps| fps.next());
                // A state that goes no deeper is keyed before it is built, where its keys can
                // be told from the operations (`sim::unbuilt`), and left out unbuilt when
                // every part was seen clean: `child` would drop it, built, for the same keys.
                let unbuilt = (!goes_deeper(remaining, deeper, fp))
                    .then(|| self.unbuilt_keys(&point, choice, &derive, &mut references))
                    .flatten();
                if unbuilt.as_ref().is_some_and(|k| self.all_clean(k)) {
                    debug_assert_eq!(
                        unbuilt,
                        self.keys(&point.build(choice)),
                        "keys told from the operations are the built state's"
                    );
                    return ControlFlow::Continue(());
                }
                let (image, base) = point.build_on(choice);
                // The part hashes of the image it was built on, to key it from.
                let reference = base
                    .filter(|_| parts.is_some())
                    .map(|i| (point.prefix(i), point.prefix_memo(i, &derive)));
                let state = Built {
                    image,
                    index,
                    reference,
                    keys: unbuilt,
                    fp,
                };
                let child = self.child(state, parent_fp, remaining, deeper);
                children.extend(child);
                ControlFlow::Continue(())
            });
            for child in children {
                self.path.push((cp, child.index));
                self.visit(&child.image, child.depth, child.keys);
                self.path.pop();
            }
        }
    }
}

/// The two states of a crash point that [`Nest::unbuilt_keys`] keys the others from: the
/// all-persisted one (whose part hashes are its prefix image's) and the all-lost one (built
/// once, when first needed).
struct References {
    full: Vec<u16>,
    lost: Vec<u16>,
    /// The all-lost state's part hashes, once computed.
    lost_hashes: Option<Vec<u128>>,
}

impl References {
    fn of(point: &CrashPoint<'_>) -> References {
        References {
            full: vec![0; point.pending.len()],
            lost: point.all_lost(),
            lost_hashes: None,
        }
    }

    /// Computes the all-lost state's part hashes, on the first call (building it).
    fn hash_lost(&mut self, point: &CrashPoint<'_>, parts: &PartGroups, derive: &DeriveMemo<'_>) {
        if self.lost_hashes.is_none() {
            let (image, base) = point.build_on(&self.lost);
            let hashes = match base {
                Some(i) => parts.hashes_from(&image, point.prefix(i), point.prefix_memo(i, derive)),
                None => parts.hashes(&image),
            };
            self.lost_hashes = Some(hashes);
        }
    }
}

/// A crash state inside a recovery, built, before [`Nest::child`] decides whether to visit it.
struct Built<'r> {
    image: Image,
    /// Its index at its crash point.
    index: usize,
    /// The prefix image it was built on, with that image's part hashes.
    reference: Option<(&'r Image, &'r [u128])>,
    /// Its parts' keys, when they were told without building it.
    keys: Option<Vec<u128>>,
    /// Its fingerprint, when the choice of the fan-out computed it.
    fp: Option<u128>,
}

/// The part hashes of a prefix image, from the previous one's where there is one (for
/// [`CrashPoint::prefix_memo`]); only called with `parts`.
fn derive_hashes(
    parts: Option<&PartGroups>,
) -> impl Fn(&Image, Option<(&Image, &[u128])>) -> Vec<u128> + '_ {
    move |image, previous| {
        let parts = parts.expect("only with parts");
        match previous {
            None => parts.hashes(image),
            Some((before, hashes)) => parts.hashes_from(image, before, hashes),
        }
    }
}

/// Whether a state of a recovery's crash point with fingerprint `fp` (when the choice of the
/// fan-out computed it) goes one level deeper, `remaining` levels below its parent: never when
/// `remaining` is 1; when `deeper` chose it; and, not knowing, as `Nest::child` will tell.
fn goes_deeper(remaining: usize, deeper: Option<&Deeper>, fp: Option<u128>) -> bool {
    match (deeper, fp) {
        _ if remaining == 1 => false,
        (Some(d), Some(fp)) => d.chosen.contains(&fp),
        _ => true,
    }
}

/// Which states of a recovery go one level deeper ([`Nest::chosen_deeper`]), and the
/// fingerprint of every state of its crash points, each point's in the order
/// [`CrashPoint::for_each_state`] gives them, so that they are not computed twice.
pub(super) struct Deeper {
    chosen: BTreeSet<u128>,
    fps: Vec<Vec<u128>>,
}

/// A crash state inside a recovery, to visit once its crash point is enumerated.
struct Child {
    /// Its index at its crash point.
    index: usize,
    image: Image,
    /// How many levels below it are explored.
    depth: usize,
    /// Its parts' keys, when they were computed before it was kept.
    keys: Option<Vec<u128>>,
}

/// Whether `fp` is new in a subtree that has `seen` these states, at remaining depth `depth`
/// (and is not the parent's, `parent_fp`).
fn fresh(seen: &BTreeMap<u128, usize>, parent_fp: u128, fp: u128, depth: usize) -> bool {
    fp != parent_fp && seen.get(&fp).is_none_or(|&d| d < depth)
}
