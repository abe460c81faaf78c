//! Rebuilding one named crash state: for counterexample descriptions and [`super::replay()`].

use super::describe;
use super::engine::{check_state, narrowed, run_workload, sample_seed, Found, Run, Shared};
use super::explore::{token_for, Counterexample, ExploreConfig, Subject, Violation};
use super::fs::{Fault, SimFs};
use super::image::Image;
use super::model::{Model, Resolution};
use super::process::{child_run, live_view, Child};
use super::states::CrashWalk;
use super::token::ReplayToken;
use super::trace::TraceOp;

/// The state a token names, rebuilt, and the description of how.
pub(crate) struct Located<A> {
    /// The run the state belongs to (for a process crash, the combined run).
    pub run: Run<A>,
    /// What was found there: a state to check, or recovery on a live view that failed.
    pub found: Rebuilt,
    pub lines: Vec<String>,
}

/// What a token names.
pub(crate) enum Rebuilt {
    /// A crash state, to recover and check.
    State(Image),
    /// Recovery on the live view after the last process crash failed.
    RecoveryFailed(Violation),
}

/// Runs the workload with `fault`, then each process crash of `process` in turn.
fn process_runs<S: Subject>(
    sh: &Shared<'_, S>,
    fault: Option<Fault>,
    process: &[usize],
    lines: &mut Vec<String>,
) -> Result<(Run<S::Ack>, Option<Violation>), String> {
    let mut run = run_workload(sh, fault).ok_or("the fault never fires in this workload")?;
    describe::header(lines, sh.subject.name(), sh.model, fault, &run.calls);
    for (nth, &cp) in process.iter().enumerate() {
        let n = run.trace.len();
        if cp > n || (nth > 0 && cp < run.start) {
            return Err(format!(
                "process crash point {cp} is outside the {n}-op trace it names"
            ));
        }
        let live = live_view(&sh.setup, &run.trace, cp, sh.config.block_size);
        match child_run(sh, &run, cp, &live) {
            Child::Nothing => {
                return Err(format!(
                    "recovery after a process crash at {cp} issues no operation: nothing to replay"
                ))
            }
            Child::Failed(violation) => {
                describe::process_crash(lines, nth, cp, n, cp);
                if nth + 1 < process.len() {
                    return Err(format!("recovery after the process crash at {cp} failed"));
                }
                return Ok((run, Some(violation)));
            }
            Child::Run(child) => {
                describe::process_crash(lines, nth, cp, n, child.trace.len());
                run = child;
            }
        }
    }
    Ok((run, None))
}

/// Rebuilds the state at `path` after the process crashes `process` of the run with `fault`.
pub(crate) fn locate<S: Subject>(
    sh: &Shared<'_, S>,
    fault: Option<Fault>,
    process: &[usize],
    path: &[(usize, usize)],
) -> Result<Located<S::Ack>, String> {
    let mut lines = Vec::new();
    let (run, failed) = process_runs(sh, fault, process, &mut lines)?;
    let found = match (failed, path.is_empty()) {
        (Some(violation), true) => Rebuilt::RecoveryFailed(violation),
        (Some(_), false) => {
            return Err("the token names a state after a recovery that fails".into())
        }
        (None, true) => return Err("the token names no crash point".into()),
        (None, false) => {
            let walk = PathWalk {
                sh,
                run: &run,
                fault,
                path,
                died_at: process.last().copied(),
            };
            Rebuilt::State(walk.image(&mut lines)?)
        }
    };
    Ok(Located { run, found, lines })
}

/// Following a token's path of (crash point, state index) pairs down from a run: level 0 crashes
/// the run's trace, each further level the trace of recovery on the state above it.
struct PathWalk<'w, 's, S: Subject> {
    sh: &'w Shared<'s, S>,
    run: &'w Run<S::Ack>,
    fault: Option<Fault>,
    path: &'w [(usize, usize)],
    /// The last process crash point, if the run is a process crash's.
    died_at: Option<usize>,
}

impl<S: Subject> PathWalk<'_, '_, S> {
    /// The state the path ends at, each level described in `lines`.
    fn image(&self, lines: &mut Vec<String>) -> Result<Image, String> {
        let sh = self.sh;
        let mut base = sh.setup.clone();
        let mut trace = self.run.trace.clone();
        let mut res = self.run.res.clone();
        for level in 0..self.path.len() {
            let image = self.state_at(level, &base, &trace, &res, lines)?;
            if level + 1 == self.path.len() {
                return Ok(image);
            }
            let fs = SimFs::from_image(&image);
            sh.subject
                .recover(&fs)
                .map_err(|e| format!("recovery at level {level} failed: {e}"))?;
            trace = fs.trace();
            res = sh.model.resolve(&trace);
            base = image;
        }
        unreachable!("the loop returns at the last level")
    }

    /// The state the path names at `level`: at its crash point of `trace` (crashed from `base`,
    /// resolved as `res`), the state of its index, described in `lines`.
    fn state_at(
        &self,
        level: usize,
        base: &Image,
        trace: &[TraceOp],
        res: &[Resolution],
        lines: &mut Vec<String>,
    ) -> Result<Image, String> {
        let sh = self.sh;
        let (cp, index) = self.path[level];
        if cp > trace.len() {
            return Err(format!(
                "crash point {cp} is past the end of a {}-op trace",
                trace.len()
            ));
        }
        let mut walk = CrashWalk::new(sh.model, base, trace, res, sh.config.block_size)
            .factored(sh.factoring());
        let point = walk.point(cp);
        let point = match level {
            0 => narrowed(self.run, point),
            // Inside recovery every crash point from 0 on is explored, with the same acks.
            _ => point.only_new_after(0),
        };
        let seed = sample_seed(sh.config.seed, self.fault, &self.path[..level], cp);
        let choice = point
            .state(sh.bounds_at(self.run.kind(), level), seed, index)
            .ok_or_else(|| format!("crash point {cp} has no state {index}"))?;
        let state = describe::LevelState {
            level,
            point: &point,
            choice: &choice,
            index,
            died_at: self.died_at.filter(|_| level == 0),
        };
        describe::level(lines, trace, state, sh.config.block_size);
        Ok(point.build(&choice))
    }
}

/// The counterexample for a violation the explorer found: its token and description.
pub(crate) fn counterexample<S: Subject>(sh: &Shared<'_, S>, found: &Found) -> Counterexample {
    let token = token_for(
        &sh.subject.name(),
        sh.model.name(),
        sh.config,
        found.fault,
        &found.process,
        &found.path,
    );
    let token = token.to_string();
    let lines = match locate(sh, found.fault, &found.process, &found.path) {
        Ok(located) => located.lines,
        Err(e) => vec![format!("(could not rebuild the state: {e})")],
    };
    let description = describe::finish(lines, &found.violation, &token);
    Counterexample {
        kind: super::explore::CrashKind::of(&found.process),
        violation: found.violation.clone(),
        token,
        description,
    }
}

/// See [`super::explore::replay`].
pub(crate) fn replay<S: Subject>(
    subject: &S,
    model: &dyn Model,
    config: &ExploreConfig,
    token: &ReplayToken,
) -> Result<Option<Counterexample>, String> {
    let sh = Shared::new(subject, model, config);
    let located = locate(&sh, token.fault, &token.process, &token.path)?;
    let first = match located.found {
        Rebuilt::RecoveryFailed(violation) => Some(violation),
        Rebuilt::State(image) => {
            let top = token.path[0].0;
            let acks = &located.run.acks.entries()[..located.run.acks.visible_at(top)];
            let (violations, _) = check_state(subject, &sh.setup, &image, acks, top);
            violations.into_iter().next()
        }
    };
    let kind = super::explore::CrashKind::of(&token.process);
    Ok(first.map(|violation| {
        let token = token.to_string();
        let description = describe::finish(located.lines, &violation, &token);
        Counterexample {
            kind,
            violation,
            token,
            description,
        }
    }))
}
