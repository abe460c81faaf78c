//! A recorded program as a harness [`Subject`]: its run is the recorded log replayed onto the
//! simulator, its recovery happens in the real directory (the user's `--recover`), and its check
//! is the user's checker run on each crash state materialized.

use super::checker::{Checker, Verdict};
use super::record::{replay_log, RecordError, RecordSettings, Replayed};
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
    /// Which log event issued each trace operation.
    replayed: Replayed,
    /// The final uncrashed state and all acks.
    final_image: Image,
    acks: Vec<String>,
    /// Verdicts already given, by (state fingerprint, acks seen): a state met again under
    /// another model is not materialized again.
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
    /// Prepares `recording` for exploration with `checker`; replays the log once to check it.
    pub fn new(recording: &Recording, checker: Checker) -> Result<BlackBox, LoadError> {
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

    /// The checker's verdict on the state before the run (no acks).
    pub fn judge_initial(&self) -> Verdict {
        self.checker.judge(&self.setup, &[])
    }

    /// The checker's verdict on the state after the run, uncrashed (every ack).
    pub fn judge_final(&self) -> Verdict {
        self.checker.judge(&self.final_image, &self.acks)
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

    fn recover(&self, _fs: &SimFs) -> Result<(), String> {
        Ok(())
    }

    fn check(&self, ctx: &CheckContext<'_, String>) -> Vec<Violation> {
        let key = (ctx.crashed.fingerprint(), ctx.acks.len());
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
        let verdict = self.checker.judge(ctx.crashed, &acks);
        let (invariant, message) = match verdict {
            Verdict::Consistent => return Vec::new(),
            Verdict::Failed {
                stage,
                status,
                output,
            } => (
                stage,
                format!("the {stage} command failed ({status}); its output:\n{output}"),
            ),
            Verdict::TimedOut { stage } => ("timeout", format!("the {stage} command timed out")),
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
