//! A write-ahead log, explored under every persistence model: appends, `fdatasync` before the
//! acknowledgement, and a recovery that reads to the first bad record and truncates the tail.
//!
//! The log is `wal/log`, created by the workload (then its directory is fsynced). Each record is
//! one append of a frame: the payload's length (`u32`, little endian), a CRC-32C of the length
//! bytes and the payload (`u32`, little endian), then the payload. A record is acknowledged
//! after the `fdatasync` that follows its append. Recovery reads frames from the start and stops
//! at the first one that is short or whose checksum does not match, then truncates the file
//! there (`set_len`, `fdatasync`).
//!
//! Known-bad variants: the acknowledgement comes before the `fdatasync`; recovery trusts the
//! length field without checking the CRC (a zeroed or torn tail then reads as records); the
//! directory is not fsynced after the log is created (the whole log may vanish).
//!
//! Invariants: every acknowledged record is recovered (`durable`); the records recovered are
//! exactly the first records written, byte for byte (`no-garbage`); after recovery the file ends
//! where its last good record ends (`truncated`).
//!
//! Run with `cargo run --example wal`.

use crashsafe::fs::{read_capped, FileKind, Fs, FsError};
use crashsafe::path::RelPath;
use crashsafe::sim::{
    all_models, explore, AckLog, CheckContext, ExploreConfig, Image, Node, SimFs, Subject,
    Violation,
};

/// Which variant of the log the workload and recovery follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalVariant {
    /// Append, fdatasync, acknowledge; recovery checks each record's CRC.
    Correct,
    /// Acknowledges a record before its fdatasync.
    AckBeforeSync,
    /// Recovery trusts the length field and never checks the CRC.
    NoChecksum,
    /// Never fsyncs the directory after creating the log.
    NoDirFsync,
}

impl WalVariant {
    /// Every variant, the correct one first.
    pub const ALL: [WalVariant; 4] = [
        WalVariant::Correct,
        WalVariant::AckBeforeSync,
        WalVariant::NoChecksum,
        WalVariant::NoDirFsync,
    ];

    /// The variant's name, as subject names use it.
    pub fn name(self) -> &'static str {
        match self {
            WalVariant::Correct => "correct",
            WalVariant::AckBeforeSync => "ack-before-fdatasync",
            WalVariant::NoChecksum => "no-checksum",
            WalVariant::NoDirFsync => "no-dir-fsync",
        }
    }
}

/// What the workload acknowledges: record `n` (0-based) is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked(pub usize);

/// The frame header: length and CRC, 4 bytes each.
const HEADER: usize = 8;

/// The subject: `records` records of `size` bytes appended to a fresh log.
#[derive(Debug, Clone)]
pub struct Wal {
    /// The variant.
    pub variant: WalVariant,
    /// How many records are appended.
    pub records: usize,
    /// How long each payload is, in bytes.
    pub size: usize,
}

impl Wal {
    /// `records` records of 24 bytes.
    pub fn new(variant: WalVariant, records: usize) -> Wal {
        Wal {
            variant,
            records,
            size: 24,
        }
    }

    /// The payload of record `n`.
    pub fn payload(&self, n: usize) -> Vec<u8> {
        let text = format!("record {n} ");
        text.bytes().cycle().take(self.size.max(1)).collect()
    }

    /// Record `n` framed: length, CRC-32C of length and payload, payload.
    pub fn frame(&self, n: usize) -> Vec<u8> {
        let payload = self.payload(n);
        let len = (payload.len() as u32).to_le_bytes();
        let mut crc_input = len.to_vec();
        crc_input.extend_from_slice(&payload);
        let mut out = len.to_vec();
        out.extend_from_slice(&crc32c::crc32c(&crc_input).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    fn dir() -> RelPath {
        RelPath::new("wal").expect("a plain path")
    }

    fn log() -> RelPath {
        RelPath::new("wal/log").expect("a plain path")
    }

    /// The records this variant's reader finds in `bytes`, and where the last good one ends.
    pub fn parse(&self, bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
        let mut records = Vec::new();
        let mut at = 0usize;
        while let Some(header) = bytes.get(at..at + HEADER) {
            let len_bytes: [u8; 4] = header[..4].try_into().expect("4 bytes");
            let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
            let len = u32::from_le_bytes(len_bytes) as usize;
            let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
                break;
            };
            if self.variant != WalVariant::NoChecksum {
                let mut crc_input = len_bytes.to_vec();
                crc_input.extend_from_slice(payload);
                if crc32c::crc32c(&crc_input) != crc {
                    break;
                }
            }
            records.push(payload.to_vec());
            at += HEADER + len;
        }
        (records, at)
    }

    fn append_all(&self, fs: &SimFs, acks: &mut AckLog<Acked>) -> Result<(), FsError> {
        let mut log = fs.create_new(&Self::log())?;
        if self.variant != WalVariant::NoDirFsync {
            fs.fsync_dir(&Self::dir())?;
        }
        let mut end = 0u64;
        for n in 0..self.records {
            let frame = self.frame(n);
            // An append: a write at the current length.
            fs.write_at(&mut log, end, &frame)?;
            end += frame.len() as u64;
            if self.variant == WalVariant::AckBeforeSync {
                acks.push(fs.op_count(), Acked(n));
                fs.fdatasync(&mut log)?;
            } else {
                fs.fdatasync(&mut log)?;
                acks.push(fs.op_count(), Acked(n));
            }
        }
        Ok(())
    }

    /// The log's bytes, or `None` if it is missing.
    fn read_log<F: Fs>(fs: &F) -> Result<Option<Vec<u8>>, FsError> {
        match fs.stat(&Self::log())? {
            Some(meta) if meta.kind == FileKind::File => {
                read_capped(fs, &Self::log(), 1 << 20).map(Some)
            }
            _ => Ok(None),
        }
    }
}

impl Subject for Wal {
    type Ack = Acked;

    fn name(&self) -> String {
        format!("wal-{}-{}", self.variant.name(), self.records)
    }

    fn setup(&self) -> Image {
        let mut image = Image::new();
        image.put_dir(&Self::dir());
        image
    }

    fn run(&self, fs: &SimFs, acks: &mut AckLog<Acked>) {
        // An error stops the workload: nothing after it is acknowledged.
        let _ = self.append_all(fs, acks);
    }

    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        self.recover_on(fs)
    }

    fn check(&self, ctx: &CheckContext<'_, Acked>) -> Vec<Violation> {
        self.judge(ctx)
    }
}

impl Wal {
    /// Recovery on any backend: read to the first bad record, truncate the tail there.
    pub fn recover_on<F: Fs>(&self, fs: &F) -> Result<(), String> {
        let err = |e: FsError| e.to_string();
        let Some(bytes) = Self::read_log(fs).map_err(err)? else {
            return Ok(());
        };
        let (_, end) = self.parse(&bytes);
        if end < bytes.len() {
            let mut log = fs.open_write(&Self::log()).map_err(err)?;
            fs.set_len(&mut log, end as u64).map_err(err)?;
            fs.fdatasync(&mut log).map_err(err)?;
        }
        Ok(())
    }

    fn judge(&self, ctx: &CheckContext<'_, Acked>) -> Vec<Violation> {
        let mut violations = Vec::new();
        let bytes = match ctx.recovered.get(&Self::log()) {
            Some(Node::File(data)) => data.as_ref().clone(),
            _ => Vec::new(),
        };
        let (records, end) = self.parse(&bytes);
        for (n, record) in records.iter().enumerate() {
            if n >= self.records || *record != self.payload(n) {
                violations.push(Violation::new(
                    "no-garbage",
                    format!(
                        "record {n} reads {:?}, which was never written there",
                        String::from_utf8_lossy(record)
                    ),
                ));
                break;
            }
        }
        if let Some(Acked(n)) = ctx.acks.iter().map(|(_, a)| *a).max_by_key(|a| a.0) {
            if records.len() <= n {
                violations.push(Violation::new(
                    "durable",
                    format!(
                        "record {n} was acknowledged but only {} records were recovered",
                        records.len()
                    ),
                ));
            }
        }
        if end != bytes.len() {
            violations.push(Violation::new(
                "truncated",
                format!(
                    "the log is {} bytes but its good records end at byte {end}",
                    bytes.len()
                ),
            ));
        }
        violations
    }
}

/// Explores each variant under each model and prints what is caught.
#[allow(dead_code)]
fn main() {
    let config = ExploreConfig::default();
    for variant in WalVariant::ALL {
        let subject = Wal::new(variant, 3);
        for model in all_models() {
            let report = explore(&subject, model.as_ref(), &config);
            let verdict = match report.violations.first() {
                None => "clean".to_string(),
                Some(first) => format!("CAUGHT ({})", first.violation.invariant),
            };
            println!(
                "{:<28} {:<13} {:>5} crash states: {verdict}",
                subject.name(),
                report.model,
                report.crash_states
            );
        }
    }
}
