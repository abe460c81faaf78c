//! A rollback-journal pager (SQLite's pattern), explored under every persistence model.
//!
//! The database `data/db` holds fixed-size pages. A transaction changes some pages in place:
//! it copies their old contents to the journal `data/db-journal` (a header, the saved pages and
//! a CRC-32C of all of it), fsyncs the journal and its directory, writes the new pages in place,
//! fsyncs the database, then deletes the journal and fsyncs the directory; the transaction is
//! acknowledged after that. Recovery: a complete journal (its CRC matches) is rolled back (the
//! saved pages written back, the database fsynced); then any journal is deleted and the
//! directory fsynced.
//!
//! Known-bad variants: the pages are written in place before the journal is durable; the
//! journal is deleted before the database's fsync.
//!
//! Invariants: the database holds every page of one version, never a mix (`atomic`), and no
//! older version than the last acknowledged transaction (`durable`).
//!
//! Run with `cargo run --example pager`.

use crashsafe::fs::{read_capped, Fs, FsError};
use crashsafe::path::RelPath;
use crashsafe::sim::{
    all_models, explore, AckLog, CheckContext, ExploreConfig, Image, Node, SimFs, Subject,
    Violation,
};

/// Which recipe the pager follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagerVariant {
    /// Journal durable, pages in place, database fsync, journal deleted.
    Correct,
    /// Writes the pages in place before fsyncing the journal and its directory.
    WriteBeforeJournalDurable,
    /// Deletes the journal (durably) before fsyncing the database.
    DeleteJournalBeforeSync,
}

impl PagerVariant {
    /// Every variant, the correct one first.
    pub const ALL: [PagerVariant; 3] = [
        PagerVariant::Correct,
        PagerVariant::WriteBeforeJournalDurable,
        PagerVariant::DeleteJournalBeforeSync,
    ];

    /// The variant's name, as subject names use it.
    pub fn name(self) -> &'static str {
        match self {
            PagerVariant::Correct => "correct",
            PagerVariant::WriteBeforeJournalDurable => "write-before-journal-durable",
            PagerVariant::DeleteJournalBeforeSync => "delete-journal-before-sync",
        }
    }
}

/// What the workload announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Transaction `n` (1-based) is about to start.
    Start(usize),
    /// Transaction `n` returned: it must be durable.
    Done(usize),
}

/// How long a page is, in bytes.
pub const PAGE: usize = 8;
/// The journal's magic number.
const MAGIC: &[u8; 4] = b"RBJ1";

/// The subject: a database of `pages` pages; transaction `n` (1 to `transactions`) sets the
/// even-numbered pages to version `n`.
#[derive(Debug, Clone)]
pub struct Pager {
    /// The recipe.
    pub variant: PagerVariant,
    /// How many pages the database has.
    pub pages: usize,
    /// How many transactions run.
    pub transactions: usize,
}

impl Pager {
    /// A 4-page database and 2 transactions.
    pub fn new(variant: PagerVariant) -> Pager {
        Pager {
            variant,
            pages: 4,
            transactions: 2,
        }
    }

    /// Page `page` at version `version` (exactly [`PAGE`] bytes).
    pub fn page(page: usize, version: usize) -> Vec<u8> {
        let text = format!("p{page}v{version:05}");
        text.bytes().cycle().take(PAGE).collect()
    }

    /// Whether transaction `n` changes `page` (the even pages).
    fn changes(page: usize) -> bool {
        page % 2 == 0
    }

    /// The whole database after transaction `version` (0: the setup's).
    pub fn database(&self, version: usize) -> Vec<u8> {
        (0..self.pages)
            .flat_map(|p| Self::page(p, if Self::changes(p) { version } else { 0 }))
            .collect()
    }

    fn db() -> RelPath {
        RelPath::new("data/db").expect("a plain path")
    }

    fn journal() -> RelPath {
        RelPath::new("data/db-journal").expect("a plain path")
    }

    fn dir() -> RelPath {
        RelPath::new("data").expect("a plain path")
    }

    /// The journal of a transaction that leaves version `old`: magic, page count, then each
    /// saved page's number and old bytes, then a CRC-32C of everything before it.
    fn journal_bytes(&self, old: usize) -> Vec<u8> {
        let saved: Vec<usize> = (0..self.pages).filter(|&p| Self::changes(p)).collect();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(saved.len() as u32).to_le_bytes());
        for p in saved {
            out.extend_from_slice(&(p as u32).to_le_bytes());
            out.extend_from_slice(&Self::page(p, old));
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// The saved pages of a complete journal, or `None` if it is torn or incomplete.
    fn parse_journal(bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32c::crc32c(body).to_le_bytes() != crc || body.get(..4)? != MAGIC {
            return None;
        }
        let count = u32::from_le_bytes(body.get(4..8)?.try_into().ok()?) as usize;
        let entries = body.get(8..)?;
        if entries.len() != count.checked_mul(4 + PAGE)? {
            return None;
        }
        let saved = entries
            .chunks_exact(4 + PAGE)
            .map(|e| {
                let page = u32::from_le_bytes(e[..4].try_into().expect("4 bytes"));
                (page as u64 * PAGE as u64, &e[4..])
            })
            .collect();
        Some(saved)
    }

    fn transaction(&self, fs: &SimFs, n: usize) -> Result<(), FsError> {
        let mut journal = fs.create_new(&Self::journal())?;
        fs.write_at(&mut journal, 0, &self.journal_bytes(n - 1))?;
        let make_journal_durable = |journal: &mut _| -> Result<(), FsError> {
            fs.fsync(journal)?;
            fs.fsync_dir(&Self::dir())
        };
        if self.variant != PagerVariant::WriteBeforeJournalDurable {
            make_journal_durable(&mut journal)?;
        }
        let mut db = fs.open_write(&Self::db())?;
        for p in (0..self.pages).filter(|&p| Self::changes(p)) {
            fs.write_at(&mut db, (p * PAGE) as u64, &Self::page(p, n))?;
        }
        if self.variant == PagerVariant::WriteBeforeJournalDurable {
            make_journal_durable(&mut journal)?;
        }
        let delete_journal = || -> Result<(), FsError> {
            fs.unlink(&Self::journal())?;
            fs.fsync_dir(&Self::dir())
        };
        if self.variant == PagerVariant::DeleteJournalBeforeSync {
            delete_journal()?;
            fs.fsync(&mut db)?;
        } else {
            fs.fsync(&mut db)?;
            delete_journal()?;
        }
        Ok(())
    }
}

impl Subject for Pager {
    type Ack = Ack;

    fn name(&self) -> String {
        format!(
            "pager-{}-{}x{}",
            self.variant.name(),
            self.pages,
            self.transactions
        )
    }

    fn setup(&self) -> Image {
        let mut image = Image::new();
        image.put_file(&Self::db(), &self.database(0));
        image
    }

    fn run(&self, fs: &SimFs, acks: &mut AckLog<Ack>) {
        for n in 1..=self.transactions {
            acks.push(fs.op_count(), Ack::Start(n));
            if self.transaction(fs, n).is_err() {
                return;
            }
            acks.push(fs.op_count(), Ack::Done(n));
        }
    }

    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        Self::recover_on(fs)
    }

    fn check(&self, ctx: &CheckContext<'_, Ack>) -> Vec<Violation> {
        self.judge(ctx)
    }
}

impl Pager {
    /// Recovery on any backend: roll a complete journal back, then delete any journal.
    pub fn recover_on<F: Fs>(fs: &F) -> Result<(), String> {
        let err = |e: FsError| e.to_string();
        if fs.stat(&Self::journal()).map_err(err)?.is_none() {
            return Ok(());
        }
        let bytes = read_capped(fs, &Self::journal(), 1 << 20).map_err(err)?;
        if let Some(saved) = Self::parse_journal(&bytes) {
            let mut db = fs.open_write(&Self::db()).map_err(err)?;
            for (offset, old) in saved {
                fs.write_at(&mut db, offset, old).map_err(err)?;
            }
            fs.fsync(&mut db).map_err(err)?;
        }
        fs.unlink(&Self::journal()).map_err(err)?;
        fs.fsync_dir(&Self::dir()).map_err(err)
    }

    fn judge(&self, ctx: &CheckContext<'_, Ack>) -> Vec<Violation> {
        let (mut started, mut acked) = (0, 0);
        for (_, ack) in ctx.acks {
            match *ack {
                Ack::Start(n) => started = n,
                Ack::Done(n) => acked = n,
            }
        }
        let db = match ctx.recovered.get(&Self::db()) {
            Some(Node::File(data)) => data.as_ref().clone(),
            _ => Vec::new(),
        };
        match (0..=started).rev().find(|&v| db == self.database(v)) {
            None => vec![Violation::new(
                "atomic",
                format!(
                    "the database is no single version: {:?}",
                    String::from_utf8_lossy(&db)
                ),
            )],
            Some(v) if v < acked => vec![Violation::new(
                "durable",
                format!("the database is at version {v} but transaction {acked} was acknowledged"),
            )],
            Some(_) => Vec::new(),
        }
    }
}

/// Explores each variant under each model and prints what is caught.
#[allow(dead_code)]
fn main() {
    let config = ExploreConfig::default();
    for variant in PagerVariant::ALL {
        let subject = Pager::new(variant);
        for model in all_models() {
            let report = explore(&subject, model.as_ref(), &config);
            let verdict = match report.violations.first() {
                None => "clean".to_string(),
                Some(first) => format!("CAUGHT ({})", first.violation.invariant),
            };
            println!(
                "{:<44} {:<13} {:>5} crash states: {verdict}",
                subject.name(),
                report.model,
                report.crash_states
            );
        }
    }
}
