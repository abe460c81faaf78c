//! Regressions from a code review of the journal's protocol and recovery. Each test tells the
//! bug's story.

use crashsafe::format::{decode, encode, Content, Digest, Entry, EntryKind, UpdateRecord};
use crashsafe::fs::Fs;
use crashsafe::journal::{Journal, JournalError, Source, Update};
use crashsafe::path::RelPath;
use crashsafe::sim::{Image, Node, SimFs, TraceOp};

fn p(s: &str) -> RelPath {
    RelPath::new(s).expect("plain")
}

fn setup(files: &[(&str, &[u8])]) -> SimFs {
    let mut image = Image::new();
    image.put_dir(&p(".crashsafe/journal"));
    image.put_dir(&p("inc"));
    for (path, data) in files {
        image.put_file(&p(path), data);
    }
    SimFs::from_image(&image)
}

fn content(fs: &SimFs, path: &str) -> Option<Vec<u8>> {
    match fs.image().get(&p(path)) {
        Some(Node::File(data)) => Some(data.as_ref().clone()),
        _ => None,
    }
}

/// A streamed update records its new content as unknown, so recovery can only ask whether the
/// target still holds its old content. A stream that yielded exactly the old bytes was switched
/// in and acknowledged; if its entry then survived a crash, recovery judged it "not done" and
/// deleted the increment of an acknowledged update. Such a stream is now refused before the
/// switch, with its own error, and recovery rolls it back.
#[test]
fn a_stream_equal_to_the_old_content_is_refused_before_the_switch() {
    let fs = setup(&[("a.txt", b"same")]);
    let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    let update = Update::stream(p("a.txt"), std::io::Cursor::new(b"same".to_vec()))
        .with_increment(p("inc/a.1"), Source::Bytes(b"delta".to_vec()));
    let err = journal.commit(update).unwrap_err();
    assert!(
        matches!(err, JournalError::StreamUnchanged(ref t) if t == &p("a.txt")),
        "{err:?}"
    );
    journal.recover().unwrap();
    assert_eq!(content(&fs, "a.txt").as_deref(), Some(&b"same"[..]));
    assert_eq!(
        content(&fs, "inc/a.1"),
        None,
        "no increment for an update that did not happen"
    );
    let names: Vec<String> = fs
        .image()
        .walk()
        .into_keys()
        .map(|k| k.to_string())
        .filter(|k| !is_kept_journal_file(k))
        .collect();
    assert_eq!(names, [".crashsafe", ".crashsafe/journal", "a.txt", "inc"]);
}

/// An atomic batch whose every new content equals the old cannot show on any target which side
/// of its commit point it is on. Its two entry files are removed without a barrier between
/// them, so a crash after the acknowledgement could leave the intent without its commit record;
/// recovery then rolled the batch "back" and deleted the increments of an acknowledged batch.
/// Such a batch is now judged update by update, and keeps its complete increments.
#[test]
fn an_acknowledged_atomic_batch_of_unchanged_files_keeps_its_increments() {
    let fs = setup(&[("a.txt", b"same")]);
    let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    let update = Update::write(p("a.txt"), "same")
        .with_increment(p("inc/a.1"), Source::Bytes(b"delta".to_vec()));
    journal.commit_batch(vec![update], true).unwrap();
    // The crash state: the intent's removal lost, the commit record's kept.
    let intent = fs
        .trace()
        .into_iter()
        .find_map(|op| match op {
            TraceOp::Write { path, data, .. } if path.as_str().ends_with(".intent") => {
                Some((path, data))
            }
            _ => None,
        })
        .expect("the intent was written");
    let mut file = fs.create_new(&intent.0).unwrap();
    fs.write_at(&mut file, 0, &intent.1).unwrap();
    drop(file);
    let mut reopened = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    reopened.recover().unwrap();
    assert_eq!(content(&fs, "inc/a.1").as_deref(), Some(&b"delta"[..]));
    assert_eq!(content(&fs, "a.txt").as_deref(), Some(&b"same"[..]));
}

/// A target may be 4,095 bytes long, but its temp name is about 33 bytes longer than its own
/// name's directory allows: building the temp path panicked, in `commit` and — through the
/// entry check — in the decoder, so a crafted entry could crash recovery. Both now answer with
/// an error.
#[test]
fn a_target_too_deep_for_its_temp_name_is_an_error_not_a_panic() {
    let dir: String = (0..20)
        .map(|i| format!("{}{i:02}", "d".repeat(201)))
        .collect::<Vec<_>>()
        .join("/");
    let target = p(&format!("{dir}/x"));
    let mut image = Image::new();
    image.put_dir(&p(".crashsafe/journal"));
    image.put_dir(&p(&dir));
    let fs = SimFs::from_image(&image);
    let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    let err = journal
        .commit(Update::write(target.clone(), "x"))
        .unwrap_err();
    assert!(matches!(err, JournalError::Path(_)), "{err:?}");
    // The same target in an entry, with some temp of the right name in the root: refused.
    let entry = Entry {
        seq: 1,
        kind: EntryKind::Intent { atomic: false },
        updates: vec![UpdateRecord {
            target,
            temp: Some(p(".crashsafe-0000000000000001-0.tmp")),
            old: Content::Absent,
            new: Content::Present(Digest::of(b"x")),
            increment: None,
        }],
    };
    let bytes = encode(&entry).expect("encoding does not check temps");
    assert!(decode(&bytes).is_err());
}

/// Whether a path names a journal floor or registry file, which the journal keeps on purpose
/// (see `src/journal/recover.rs`, "The floor", and `src/journal/registry.rs`).
fn is_kept_journal_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        crashsafe::journal::recover::parse_name(name),
        Some((
            _,
            crashsafe::journal::recover::EntryFile::Floor
                | crashsafe::journal::recover::EntryFile::Dirs
        ))
    )
}
