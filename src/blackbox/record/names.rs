//! The calls that change names under `DIR`: rename, unlink, mkdir, symlink, link.

use super::*;

impl Recorder<'_> {
    pub(super) fn two_paths(
        &self,
        proc: &Process,
        call: &Call,
        (dir_a, a): (Option<usize>, usize),
        (dir_b, b): (Option<usize>, usize),
    ) -> Res<(Loc, Loc)> {
        let from = self.resolve(proc, dir_a.and_then(|i| call.args.get(i)), bytes(call, a)?)?;
        let to = self.resolve(proc, dir_b.and_then(|i| call.args.get(i)), bytes(call, b)?)?;
        Ok((from, to))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn rename(
        &self,
        proc: &Process,
        call: &Call,
        dir_a: Option<usize>,
        a: usize,
        dir_b: Option<usize>,
        b: usize,
        flags: i64,
    ) -> Res<()> {
        let (from, to) = self.two_paths(proc, call, (dir_a, a), (dir_b, b))?;
        match (from, to) {
            (Loc::In(from), Loc::In(to)) => {
                let flags = match flags {
                    0 => RenameFlags::REPLACE,
                    RENAME_NOREPLACE => RenameFlags::NO_REPLACE,
                    RENAME_EXCHANGE => RenameFlags::EXCHANGE,
                    other => return Err(unmodelled(format!("renameat2 flags {other:#x}"))),
                };
                self.fs
                    .rename_with(&from, &to, flags)
                    .map_err(RecordErrorKind::Diverged)
            }
            (Loc::Out(_), Loc::Out(_)) => Ok(()),
            (Loc::In(from), Loc::Out(to)) => Err(unmodelled(format!(
                "a rename of {from} out of the directory, to {}",
                to.display()
            ))),
            (Loc::Out(from), Loc::In(to)) => Err(unmodelled(format!(
                "a rename of {} into the directory, as {to}",
                from.display()
            ))),
        }
    }

    pub(super) fn unlink(
        &self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
        flags: i64,
    ) -> Res<()> {
        let loc = self.path_arg(proc, call, dirfd, path_i)?;
        let Loc::In(rel) = loc else { return Ok(()) };
        match flags & AT_REMOVEDIR {
            0 => self.fs.unlink(&rel),
            _ => self.fs.rmdir(&rel),
        }
        .map_err(RecordErrorKind::Diverged)
    }

    pub(super) fn mkdir(
        &self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
    ) -> Res<()> {
        let loc = self.path_arg(proc, call, dirfd, path_i)?;
        let Loc::In(rel) = loc else { return Ok(()) };
        self.fs.mkdir(&rel).map_err(RecordErrorKind::Diverged)
    }

    pub(super) fn symlink(
        &self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
    ) -> Res<()> {
        let target = String::from_utf8(bytes(call, 0)?.to_vec())
            .map_err(|_| malformed("a symlink target that is not UTF-8"))?;
        let loc = self.path_arg(proc, call, dirfd, path_i)?;
        let Loc::In(rel) = loc else { return Ok(()) };
        self.fs
            .symlink(&rel, &target)
            .map_err(RecordErrorKind::Diverged)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn link(
        &self,
        proc: &Process,
        call: &Call,
        dir_a: Option<usize>,
        a: usize,
        dir_b: Option<usize>,
        b: usize,
    ) -> Res<()> {
        let (from, to) = self.two_paths(proc, call, (dir_a, a), (dir_b, b))?;
        let follow = call.name == "linkat" && num(call, 4)? & AT_SYMLINK_FOLLOW != 0;
        match (from, to) {
            (Loc::Out(_), Loc::Out(_)) => Ok(()),
            (Loc::In(from), Loc::In(to)) => {
                let is_symlink = self
                    .fs
                    .stat(&from)
                    .map_err(RecordErrorKind::Diverged)?
                    .is_some_and(|m| m.kind == FileKind::Symlink);
                if follow && is_symlink {
                    return Err(unmodelled("linkat with AT_SYMLINK_FOLLOW on a symlink"));
                }
                self.fs.link(&from, &to).map_err(RecordErrorKind::Diverged)
            }
            (Loc::Out(from), Loc::In(to)) => Err(unmodelled(format!(
                "a hard link {to} to {}, outside the directory",
                from.display()
            ))),
            (Loc::In(_), Loc::Out(to)) => Err(unmodelled(format!(
                "a hard link out of the directory, at {}",
                to.display()
            ))),
        }
    }
}
