//! A recorded program as a harness [`Subject`]: its run is the recorded log replayed onto the
//! simulator, its recovery is the user's `--recover` command traced on each crash state and
//! replayed onto it ([`super::recovery`]; none without `--recover`), and its check is the
//! user's checker run on the state after recovery, written out as a directory.

use super::checker::{Checker, Verdict};
use super::record::{replay_log, RecordError, RecordSettings, Replayed};
use super::recovery::TracedRecovery;
use super::strace::Event;
use super::tracefile::{Recording, TraceFileError};
use crate::sim::{AckLog, CheckContext, Image, SimFs, Subject, Violation};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A recorded run ready to explore. See the module doc.
pub struct BlackBox {
    /// `blackbox-` and a digest of the recording: a replay token names the recording it is for.
    name: String,
    setup: Image,
    events: Vec<Event>,
    settings: RecordSettings,
    checker: Checker,
    /// The user's recovery command, if any.
    recovery: Option<TracedRecovery>,
    /// Which log event issued each trace operation.
    replayed: Replayed,
    /// The final uncrashed state and all acks.
    final_image: Image,
    acks: Vec<String>,
    /// Verdicts already given, by (fingerprint of the state after recovery, acks seen): a
    /// state met again under another model is not materialized again.
    verdicts: Mutex<BTreeMap<(u128, usize), Vec<Violation>>>,
}

/// Why a recording cannot be explored.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The trace file.
    #[error(transparent)]
    File(#[from] TraceFileError),
    /// The log does not replay (it did when recorded: the file was changed).
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl BlackBox {
    /// Prepares `recording` for exploration with `checker` (and `recovery`, run on each crash
    /// state before the checker); replays the log once to check it.
    pub fn new(
        recording: &Recording,
        checker: Checker,
        recovery: Option<TracedRecovery>,
    ) -> Result<BlackBox, LoadError> {
        let events = recording.events().map_err(|e| LoadError::File(e.into()))?;
        let settings = recording.settings();
        let setup = recording.snapshot.to_image();
        let fs = SimFs::from_image(&setup);
        let mut acks = AckLog::new();
        let replayed = replay_log(&events, &settings, &fs, &mut acks)?;
        let digest = xxhash_rust::xxh3::xxh3_64(&recording.to_bytes());
        Ok(BlackBox {
            name: format!("blackbox-{digest:016x}"),
            final_image: fs.image(),
            acks: acks.entries().iter().map(|(_, a)| a.clone()).collect(),
            setup,
            events,
            settings,
            checker,
            recovery,
            replayed,
            verdicts: Mutex::new(BTreeMap::new()),
        })
    }

    /// The log events, in trace order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The log event that issued trace operation `op`.
    pub fn event_of(&self, op: usize) -> Option<&Event> {
        self.replayed.op_events.get(op).map(|&i| &self.events[i])
    }

    /// How many operations the trace has.
    pub fn trace_len(&self) -> usize {
        self.replayed.op_events.len()
    }

    /// Every acknowledged line.
    pub fn acks(&self) -> &[String] {
        &self.acks
    }

    /// The verdict on the state before the run (no acks): recovery, then the checker.
    pub fn judge_initial(&self) -> Verdict {
        self.judge_uncrashed(&self.setup, &[])
    }

    /// The verdict on the state after the run, uncrashed (every ack): recovery, then the
    /// checker.
    pub fn judge_final(&self) -> Verdict {
        self.judge_uncrashed(&self.final_image, &self.acks)
    }

    fn judge_uncrashed(&self, image: &Image, acks: &[String]) -> Verdict {
        let fs = SimFs::from_image(image);
        if let Err(why) = self.recover(&fs) {
            return Verdict::Error(why);
        }
        self.checker.judge(&fs.image(), acks)
    }
}

impl Subject for BlackBox {
    type Ack = String;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn setup(&self) -> Image {
        self.setup.clone()
    }

    fn run(&self, fs: &SimFs, acks: &mut AckLog<String>) {
        // The log replayed cleanly in `new`; the replay is deterministic.
        let _ = replay_log(&self.events, &self.settings, fs, acks);
    }

    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        match &self.recovery {
            Some(recovery) => recovery.recover(fs),
            None => Ok(()),
        }
    }

    fn check(&self, ctx: &CheckContext<'_, String>) -> Vec<Violation> {
        let key = (ctx.recovered.fingerprint(), ctx.acks.len());
        let known = self
            .verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(known) = known {
            return known;
        }
        let found = self.judge_state(ctx);
        let mut map = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(key, found.clone());
        found
    }
}

impl BlackBox {
    fn judge_state(&self, ctx: &CheckContext<'_, String>) -> Vec<Violation> {
        let acks: Vec<String> = ctx.acks.iter().map(|(_, a)| a.clone()).collect();
        let verdict = self.checker.judge(ctx.recovered, &acks);
        let (invariant, message) = match verdict {
            Verdict::Consistent => return Vec::new(),
            Verdict::Failed { status, output } => (
                "checker",
                format!("the checker command failed ({status}); its output:\n{output}"),
            ),
            Verdict::TimedOut => ("timeout", "the checker command timed out".to_string()),
            Verdict::Error(e) => ("harness-error", e),
        };
        let name = format!("cp{}-{:032x}", ctx.crash_point, ctx.crashed.fingerprint());
        let kept = self
            .checker
            .keep(ctx.crashed, &acks, &name)
            .map(|d| format!("\n(state kept in {})", d.display()))
            .unwrap_or_default();
        vec![Violation::new(invariant, format!("{message}{kept}"))]
    }
}
