use super::apply::{apply_write, block_range};
use super::*;
use crate::sim::model::Variant;
use crate::sim::trace::TraceOp;

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

#[test]
fn the_fingerprint_blind_to_unread_files_ignores_their_bytes_only() {
    let image = |t: &[u8], other: &[u8]| {
        let mut i = Image::new();
        i.put_file(&p("d/t.tmp"), t);
        i.put_file(&p("d/x"), other);
        i
    };
    let unread = [p("d/t.tmp"), p("d/missing"), p("d")];
    let base = image(b"one", b"x");
    assert_eq!(base.fingerprint_unread(&[]), base.fingerprint());
    assert_ne!(base.fingerprint_unread(&unread), base.fingerprint());
    let blind = |i: &Image| i.fingerprint_unread(&unread);
    assert_eq!(blind(&image(b"a longer content", b"x")), blind(&base));
    assert_eq!(blind(&image(b"", b"x")), blind(&base), "nor its length");
    assert_ne!(
        blind(&image(b"one", b"y")),
        blind(&base),
        "other files count"
    );
    let mut gone = base.clone();
    gone.unlink_entry(gone.resolve(&p("d")).unwrap(), "t.tmp");
    assert_ne!(blind(&gone), blind(&base), "whether it exists counts");
    let mut moded = base.clone();
    let ino = moded.resolve(&p("d/t.tmp")).unwrap();
    moded.set_file_mode(ino, FileMode::new(0o600).unwrap());
    assert_ne!(blind(&moded), blind(&base), "its mode counts");
    let linked = |t: &[u8]| {
        let mut i = image(t, b"x");
        i.put_hard_link(&p("d/t.tmp"), &p("d/u"));
        i
    };
    assert_ne!(
        blind(&linked(b"one")),
        blind(&linked(b"two")),
        "a file with two names is never blind"
    );
    let mut through = base.clone();
    through.put_symlink(&p("s"), "d");
    assert_eq!(
        through.fingerprint_unread(&[p("s/t.tmp")]),
        through.fingerprint(),
        "a path through a symlink names nothing"
    );
}

/// The names and directories [`random_change`] picks from.
const CHANGED_NAMES: [&str; 9] = [
    "a/x", "a/y", "b/z", "b/c/w", "top", "b/l", "b/x2", "a/n", "b/c/n",
];
const CHANGED_DIRS: [&str; 4] = ["a", "b", "b/c", "a/sub"];

/// A tree of files, directories, a symlink and a hard link, for the hash tests.
fn diff_reference() -> Image {
    let mut reference = Image::new();
    for d in ["a", "b", "b/c"] {
        reference.put_dir(&p(d));
    }
    for (i, f) in ["a/x", "a/y", "b/z", "b/c/w", "top"].iter().enumerate() {
        reference.put_file(&p(f), &[i as u8; 3]);
    }
    reference.put_symlink(&p("b/l"), "../a/x");
    reference.put_hard_link(&p("a/x"), &p("b/x2"));
    reference
}

/// One change to `image`, chosen by `pick`: a file written, created, removed, renamed,
/// given a second name or its mode set, or a directory removed or made.
fn random_change(image: &mut Image, round: usize, pick: &mut impl FnMut(usize) -> usize) {
    let name = p(CHANGED_NAMES[pick(CHANGED_NAMES.len())]);
    let other = p(CHANGED_NAMES[pick(CHANGED_NAMES.len())]);
    match pick(7) {
        0 => {
            if let Ok(ino) = image.resolve(&name) {
                if let Some(data) = image.file_mut(ino) {
                    data.push(round as u8);
                }
            }
        }
        1 => {
            if image.get(&name) != Some(Node::Dir) {
                image.put_file(&name, &[round as u8]);
            }
        }
        2 => {
            if let (Some(parent), Some(last)) = (name.parent(), name.file_name()) {
                if let Ok(dir) = image.resolve(&parent) {
                    image.unlink_entry(dir, last);
                }
            }
        }
        3 => {
            let (Ok(ino), Ok((to_dir, to_name))) =
                (image.resolve(&name), image.resolve_parent(&other))
            else {
                return;
            };
            let from_dir = image.resolve(&name.parent().unwrap()).unwrap();
            if image.check_rename(ino, to_dir, to_name).is_ok() {
                image.move_entry(from_dir, name.file_name().unwrap(), to_dir, to_name);
            }
        }
        4 => {
            let linkable = matches!(image.get(&name), Some(Node::File(_)));
            if linkable && image.get(&other) != Some(Node::Dir) {
                image.put_hard_link(&name, &other);
            }
        }
        5 => {
            if let Ok(ino) = image.resolve(&name) {
                image.set_file_mode(ino, FileMode::new(0o600).unwrap());
            }
        }
        _ => {
            let dir = p(CHANGED_DIRS[pick(CHANGED_DIRS.len())]);
            if let (Some(parent), Some(last)) = (dir.parent(), dir.file_name()) {
                match image.resolve(&parent) {
                    Ok(at) if pick(2) == 0 => {
                        image.unlink_entry(at, last);
                    }
                    Ok(_) if image.get(&dir).is_none() => image.put_dir(&dir),
                    _ => {}
                }
            }
        }
    }
}

/// Group hashes computed from a reference equal those computed from scratch, whatever
/// was changed since the clone: files written, created, removed, renamed across
/// directories, given a second name, modes set, symlinks, whole subtrees dropped.
#[test]
fn group_hashes_from_a_reference_equal_those_from_scratch() {
    use super::super::rng::SplitMix64;
    let mut group = |path: &str| path.bytes().map(usize::from).sum::<usize>() % 3;
    let reference = diff_reference();
    let hashes = reference.group_hashes(3, &mut group);
    assert_eq!(
        reference.group_hashes_from(&reference, &hashes, &mut group),
        hashes
    );
    let mut rng = SplitMix64::new(11);
    let mut pick = |n: usize| rng.below(n as u64).unwrap_or(0) as usize;
    let mut changed = 0;
    for round in 0..300 {
        let mut image = reference.clone();
        for _ in 0..1 + round % 4 {
            random_change(&mut image, round, &mut pick);
        }
        assert_eq!(
            image.group_hashes_from(&reference, &hashes, &mut group),
            image.group_hashes(3, &mut group),
            "round {round}: {image:?}"
        );
        let back =
            reference.group_hashes_from(&image, &image.group_hashes(3, &mut group), &mut group);
        assert_eq!(back, hashes, "round {round}, the other way");
        changed += usize::from(back != image.group_hashes(3, &mut group));
    }
    assert!(changed > 200, "the rounds change the tree: {changed}");
}

#[test]
fn builders_make_parents_and_walk_is_sorted() {
    let mut img = Image::new();
    img.put_file(&p("b/c.txt"), b"hello");
    img.put_dir(&p("a"));
    img.put_symlink(&p("b/l"), "../x");
    let walked: Vec<String> = img.walk().keys().map(|k| k.to_string()).collect();
    assert_eq!(walked, ["a", "b", "b/c.txt", "b/l"]);
    assert_eq!(img.get(&RelPath::root()), Some(Node::Dir));
    assert_eq!(
        img.get(&p("b/c.txt")),
        Some(Node::File(Arc::new(b"hello".to_vec())))
    );
    assert_eq!(img.get(&p("b/l")), Some(Node::Symlink("../x".into())));
    assert_eq!(img.get(&p("b/l/x")), None, "never through a symlink");
    assert_eq!(img.resolve(&p("b/l/x")), Err(FsErrorKind::Symlink));
    assert_eq!(
        img.resolve(&p("b/c.txt/x")),
        Err(FsErrorKind::NotADirectory)
    );
    assert_eq!(
        format!("{img:?}"),
        r#"[a/, b/, b/c.txt: 5 bytes "hello", b/l -> ../x]"#
    );
}

#[test]
fn a_cached_content_hash_follows_every_change_to_the_file() {
    let mut a = Image::new();
    a.put_file(&p("d/f"), b"one");
    let before = a.fingerprint();
    // A clone shares the data and its cached hash; a write to one side resets its hash.
    let mut b = a.clone();
    let ino = b.ino(&p("d/f")).unwrap();
    b.file_mut(ino).unwrap()[0] = b'O';
    assert_ne!(b.fingerprint(), before);
    assert_eq!(
        a.fingerprint(),
        before,
        "the other side keeps its content and hash"
    );
    let mut fresh = Image::new();
    fresh.put_file(&p("d/f"), b"One");
    assert_eq!(b.fingerprint(), fresh.fingerprint());
    b.set_file_len(ino, 1);
    fresh.put_file(&p("d/f"), b"O");
    assert_eq!(b.fingerprint(), fresh.fingerprint());
}

#[test]
fn fingerprint_and_equality_follow_the_visible_tree_only() {
    let mut a = Image::new();
    a.put_file(&p("x"), b"1");
    a.put_file(&p("y"), b"2");
    let mut b = Image::new();
    b.put_file(&p("y"), b"2");
    b.put_file(&p("x"), b"1");
    assert_eq!(a, b);
    assert_eq!(a.fingerprint(), b.fingerprint());
    let before = a.fingerprint();
    let clone = a.clone();
    a.put_file(&p("x"), b"3");
    assert_ne!(a.fingerprint(), before);
    assert_eq!(
        clone.fingerprint(),
        before,
        "a clone does not see later writes"
    );
    let mut c = Image::new();
    c.put_file(&p("x/y"), b"");
    let mut d = Image::new();
    d.put_file(&p("x"), b"");
    d.put_file(&p("y"), b"");
    assert_ne!(c.fingerprint(), d.fingerprint());
}

#[test]
fn torn_and_zero_writes_touch_only_what_they_say() {
    let data = b"AAAABBBBCC";
    assert_eq!(blocks_touched(2, 10, 4), 3);
    assert_eq!(block_range(2, 10, 0, 4), (2, 4));
    assert_eq!(block_range(2, 10, 2, 4), (8, 12));
    let mut f = b"xy".to_vec();
    apply_write(&mut f, 2, data, &Variant::Torn(vec![2]), 4);
    assert_eq!(f, b"xy\0\0\0\0\0\0BBCC");
    let mut g = b"xy".to_vec();
    apply_write(&mut g, 2, data, &Variant::Zeros, 4);
    assert_eq!(g, b"xy\0\0\0\0\0\0\0\0\0\0");
    let mut h = b"xy".to_vec();
    apply_write(&mut h, 2, data, &Variant::Full, 4);
    assert_eq!(h, b"xyAAAABBBBCC");
}

fn full(img: &mut Image, op: TraceOp) {
    img.apply(&op, &Variant::Full, 4096);
}

#[test]
fn modes_and_names_are_part_of_the_visible_tree() {
    let mut a = Image::new();
    a.put_file(&p("x"), b"1");
    let mut b = a.clone();
    b.put_file_with_mode(&p("x"), b"1", FileMode::new(0o600).unwrap());
    assert_ne!(a, b);
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_eq!(b.mode(&p("x")), FileMode::new(0o600));
    assert_eq!(format!("{b:?}"), r#"[x: 1 bytes "1" mode 0600]"#);
    let mut c = a.clone();
    c.put_file(&p("y"), b"1");
    let mut d = a.clone();
    d.put_hard_link(&p("x"), &p("y"));
    assert_eq!(c.walk(), d.walk(), "same paths and bytes");
    assert_ne!(c, d, "but one inode has two names");
    assert_ne!(c.fingerprint(), d.fingerprint());
    assert_eq!(d.nlink(&p("y")), Some(2));
    assert_eq!(
        format!("{d:?}"),
        r#"[x: 1 bytes "1" (2 names), y: 1 bytes "1" (2 names)]"#
    );
}

#[test]
fn the_inode_table_is_a_map_for_small_and_huge_numbers_alike() {
    let mut t: Table<u32> = Table::default();
    for ino in [3, 0, u64::MAX, Table::<u32>::DENSE, Table::<u32>::DENSE - 1] {
        assert!(!t.contains_key(&ino));
        assert_eq!(t.insert(ino, 1), None, "{ino}");
        assert_eq!(t.insert(ino, 2), Some(1), "{ino}");
        *t.or_insert(ino, 7) += 1;
        assert_eq!(t.get(&ino), Some(&3), "{ino}");
    }
    assert_eq!(
        t.slots.len(),
        Table::<u32>::DENSE as usize,
        "numbers past DENSE stay sparse"
    );
    assert_eq!(t.sparse.len(), 2);
    assert_eq!(t.remove(&u64::MAX), Some(3));
    assert_eq!(t.remove(&3), Some(3));
    assert_eq!(t.remove(&3), None);
    assert_eq!(t.get(&4), None, "a slot never set");
    assert_eq!(*t.or_insert(4, 9), 9);
}

#[test]
fn an_inode_lives_while_a_name_refers_to_it() {
    let mut img = Image::new();
    img.put_file(&p("a"), b"data");
    img.put_hard_link(&p("a"), &p("d/b"));
    let ino = img.resolve(&p("a")).unwrap();
    let d = img.resolve(&p("d")).unwrap();
    let unlink = |path: &str, dir| TraceOp::Unlink {
        path: p(path),
        ino,
        dir,
    };
    let link = |existing: &str, new: &str| TraceOp::Link {
        existing: p(existing),
        new: p(new),
        ino,
        dir: ROOT,
    };
    full(&mut img, unlink("a", ROOT));
    assert_eq!(
        img.get(&p("d/b")),
        Some(Node::File(Arc::new(b"data".to_vec())))
    );
    assert_eq!(img.nlink(&p("d/b")), Some(1));
    full(&mut img, link("d/b", "c"));
    assert_eq!(img.nlink(&p("c")), Some(2));
    full(&mut img, unlink("d/b", d));
    full(&mut img, unlink("c", ROOT));
    assert_eq!(
        img.inode(ino).map(Inode::kind),
        None,
        "the last name dropped it"
    );
    // A link whose inode is gone (its create was lost) is a no-op.
    full(&mut img, link("d/b", "e"));
    assert_eq!(img.get(&p("e")), None);
}

/// Files `f` (`abcdef`) and `g` (`G`), a directory `full` holding `x`, an empty directory.
fn precondition_image() -> Image {
    let mut img = Image::new();
    img.put_file(&p("f"), b"abcdef");
    img.put_file(&p("g"), b"G");
    img.put_file(&p("full/x"), b"x");
    img.put_dir(&p("empty"));
    img
}

#[test]
fn set_len_cuts_or_zero_extends_and_set_mode_applies_unless_lost() {
    let mut img = precondition_image();
    let f = img.resolve(&p("f")).unwrap();
    let g = img.resolve(&p("g")).unwrap();
    let set_len = |len| TraceOp::SetLen {
        ino: f,
        path: p("f"),
        len,
    };
    full(&mut img, set_len(3));
    assert_eq!(
        img.get(&p("f")),
        Some(Node::File(Arc::new(b"abc".to_vec())))
    );
    full(&mut img, set_len(5));
    assert_eq!(
        img.get(&p("f")),
        Some(Node::File(Arc::new(b"abc\0\0".to_vec())))
    );
    let mode = FileMode::new(0o600).unwrap();
    full(
        &mut img,
        TraceOp::SetMode {
            ino: f,
            path: p("f"),
            mode,
        },
    );
    assert_eq!(img.mode(&p("f")), Some(mode));
    img.apply(
        &TraceOp::SetMode {
            ino: g,
            path: p("g"),
            mode,
        },
        &Variant::Lost,
        4096,
    );
    assert_eq!(img.mode(&p("g")), Some(FileMode::FILE_DEFAULT), "lost");
}

#[test]
fn rmdir_applies_only_to_an_empty_directory() {
    let mut img = precondition_image();
    let rmdir = |img: &Image, path: &str| TraceOp::Rmdir {
        path: p(path),
        ino: img.resolve(&p(path)).unwrap(),
        dir: ROOT,
    };
    let before = img.clone();
    // Rmdir of a directory that is not empty here (an unlink inside was lost): no-op.
    full(&mut img, rmdir(&before, "full"));
    assert_eq!(img, before);
    full(&mut img, rmdir(&before, "empty"));
    assert_eq!(img.get(&p("empty")), None);
}

#[test]
fn a_rename_onto_a_taken_name_without_replace_and_a_repeated_exchange_are_no_ops() {
    let mut img = precondition_image();
    let f = img.resolve(&p("f")).unwrap();
    let g = img.resolve(&p("g")).unwrap();
    let mode = FileMode::new(0o600).unwrap();
    full(
        &mut img,
        TraceOp::SetMode {
            ino: f,
            path: p("f"),
            mode,
        },
    );
    // A no-replace rename onto a name taken here (its unlink was lost): no-op.
    let taken = TraceOp::Rename {
        from: p("f"),
        to: p("g"),
        ino: f,
        from_dir: ROOT,
        to_dir: ROOT,
        no_replace: true,
    };
    let before = img.clone();
    full(&mut img, taken);
    assert_eq!(img, before);
    let exchange = TraceOp::Exchange {
        from: p("f"),
        to: p("g"),
        from_ino: f,
        to_ino: g,
        from_dir: ROOT,
        to_dir: ROOT,
    };
    full(&mut img, exchange.clone());
    assert_eq!(img.get(&p("f")), Some(Node::File(Arc::new(b"G".to_vec()))));
    assert_eq!(
        img.mode(&p("g")),
        Some(mode),
        "the inode moved with its mode"
    );
    // The same exchange again finds the names swapped: a no-op.
    let before = img.clone();
    full(&mut img, exchange);
    assert_eq!(img, before);
}
