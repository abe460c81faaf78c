//! Rebuilding one named crash state: for counterexample descriptions and [`super::replay`].

use super::describe;
use super::engine::{check_state, run_workload, sample_seed, Run, Shared};
use super::explore::{token_for, Counterexample, ExploreConfig, Subject, Violation};
use super::fs::{Fault, SimFs};
use super::image::Image;
use super::model::Model;
use super::states::CrashWalk;
use super::token::ReplayToken;

/// The state at `path`: the image, and the description of how it was built.
pub(crate) struct Located<A> {
    pub run: Run<A>,
    pub image: Image,
    pub lines: Vec<String>,
}

/// Rebuilds the state at `path` of the run with `fault`.
pub(crate) fn locate<S: Subject>(
    sh: &Shared<'_, S>,
    fault: Option<Fault>,
    path: &[(usize, usize)],
) -> Result<Located<S::Ack>, String> {
    let run = run_workload(sh, fault).ok_or("the fault never fires in this workload")?;
    if path.is_empty() {
        return Err("the token names no crash point".into());
    }
    let mut lines = Vec::new();
    describe::header(&mut lines, sh.subject.name(), sh.model, fault, &run.calls);
    let mut base = sh.setup.clone();
    let mut trace = run.trace.clone();
    let mut res = run.res.clone();
    for (level, &(cp, index)) in path.iter().enumerate() {
        if cp > trace.len() {
            return Err(format!(
                "crash point {cp} is past the end of a {}-op trace",
                trace.len()
            ));
        }
        let mut walk = CrashWalk::new(sh.model, &base, &trace, &res, sh.config.block_size);
        let point = walk.point(cp);
        let seed = sample_seed(sh.config.seed, fault, &path[..level], cp);
        let choice = point
            .state(sh.bounds_at(level), seed, index)
            .ok_or_else(|| format!("crash point {cp} has no state {index}"))?;
        describe::level(
            &mut lines,
            level,
            &trace,
            &point,
            &choice,
            index,
            sh.config.block_size,
        );
        let image = point.build(&choice);
        if level + 1 == path.len() {
            return Ok(Located { run, image, lines });
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

pub(crate) fn counterexample<S: Subject>(
    sh: &Shared<'_, S>,
    fault: Option<Fault>,
    path: &[(usize, usize)],
    violation: &Violation,
) -> Counterexample {
    let token = token_for(&sh.subject.name(), sh.model.name(), sh.config, fault, path).to_string();
    let lines = match locate(sh, fault, path) {
        Ok(located) => located.lines,
        Err(e) => vec![format!("(could not rebuild the state: {e})")],
    };
    let description = describe::finish(lines, violation, &token);
    Counterexample {
        violation: violation.clone(),
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
    let located = locate(&sh, token.fault, &token.path)?;
    let top = token.path[0].0;
    let acks = &located.run.acks.entries()[..located.run.acks.visible_at(top)];
    let (violations, _) = check_state(subject, &sh.setup, &located.image, acks, top);
    Ok(violations.into_iter().next().map(|violation| {
        let token = token.to_string();
        let description = describe::finish(located.lines, &violation, &token);
        Counterexample {
            violation,
            token,
            description,
        }
    }))
}
