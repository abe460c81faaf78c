//! Who names what: each traced process's descriptor table, current directory and umask, how
//! `fork`/`clone`/`dup`/`fcntl` share or copy them, and how a path or descriptor resolves to
//! a place under `DIR` or outside it.

use super::*;

/// What a descriptor names.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// A file under `DIR`.
    File(SimFile),
    /// A directory under `DIR` (or `DIR` itself), by the path it was opened under.
    Dir(RelPath),
    /// The program's standard output (its acknowledgements).
    Stdout,
    /// Anything outside `DIR`: its absolute path, when known.
    Outside(Option<PathBuf>),
}

/// An open file description: what it names, its offset, and whether it was opened `O_APPEND`;
/// shared by the descriptors `dup` and `fork` make from it.
#[derive(Debug)]
pub(super) struct Description {
    pub(super) target: Target,
    pub(super) offset: u64,
    pub(super) append: bool,
}

/// A shared open file description.
pub(super) type Desc = Rc<RefCell<Description>>;

/// One descriptor of a process: its description and its close-on-exec flag.
#[derive(Debug, Clone)]
pub(super) struct FdEntry {
    pub(super) desc: Desc,
    pub(super) cloexec: bool,
}

/// A descriptor table, shared between processes with `CLONE_FILES`.
pub(super) type FdTable = Rc<RefCell<BTreeMap<i64, FdEntry>>>;

/// What the recorder knows of one traced process.
#[derive(Debug, Clone)]
pub(super) struct Process {
    pub(super) fds: FdTable,
    pub(super) cwd: Rc<RefCell<PathBuf>>,
    /// Shared with `CLONE_FS`, like the cwd.
    pub(super) umask: Rc<Cell<u32>>,
}

/// Where a path lands.
pub(super) enum Loc {
    /// Under `DIR` (the root is `DIR` itself).
    In(RelPath),
    /// Outside `DIR`.
    Out(PathBuf),
}

impl Recorder<'_> {
    pub(super) fn process(&mut self, pid: u32) -> Res<Process> {
        if let Some(p) = self.procs.get(&pid) {
            return Ok(p.clone());
        }
        if !self.procs.is_empty() {
            return Err(unmodelled(format!(
                "process {pid} appears before the call that created it"
            )));
        }
        // The first process: stdin, stdout and stderr inherited from `record`.
        let mut fds = BTreeMap::new();
        for (fd, target) in [
            (0, Target::Outside(None)),
            (1, Target::Stdout),
            (2, Target::Outside(None)),
        ] {
            let desc = Rc::new(RefCell::new(Description {
                target,
                offset: 0,
                append: false,
            }));
            fds.insert(
                fd,
                FdEntry {
                    desc,
                    cloexec: false,
                },
            );
        }
        let p = Process {
            fds: Rc::new(RefCell::new(fds)),
            cwd: Rc::new(RefCell::new(self.settings.cwd.clone())),
            umask: Rc::new(Cell::new(self.settings.umask)),
        };
        self.procs.insert(pid, p.clone());
        Ok(p)
    }

    pub(super) fn spawn(&mut self, parent: &Process, call: &Call, child: i64) -> Res<()> {
        let flags = match call.name.as_str() {
            "clone" => call
                .args
                .iter()
                .find_map(|a| match a {
                    Arg::Named(n, v) if n == "flags" => v.num(),
                    _ => None,
                })
                .ok_or_else(|| malformed("clone without flags="))?,
            "clone3" => {
                let args = match call.args.first() {
                    Some(Arg::Changed(before, _)) => &**before,
                    Some(a) => a,
                    None => return Err(malformed("clone3 without arguments")),
                };
                args.field("flags")
                    .and_then(Arg::num)
                    .ok_or_else(|| malformed("clone3 without flags"))?
            }
            _ => 0,
        };
        let fds = if flags & CLONE_FILES != 0 {
            parent.fds.clone()
        } else {
            Rc::new(RefCell::new(parent.fds.borrow().clone()))
        };
        let (cwd, umask) = if flags & CLONE_FS != 0 {
            (parent.cwd.clone(), parent.umask.clone())
        } else {
            (
                Rc::new(RefCell::new(parent.cwd.borrow().clone())),
                Rc::new(Cell::new(parent.umask.get())),
            )
        };
        let pid = u32::try_from(child).map_err(|_| malformed("bad child pid"))?;
        self.procs.insert(pid, Process { fds, cwd, umask });
        Ok(())
    }

    /// The description of the descriptor in argument `i`; an unknown descriptor is one the
    /// program inherited (outside `DIR`, or refused if `-y` names a path under it).
    pub(super) fn desc(&self, proc: &Process, call: &Call, i: usize) -> Res<Desc> {
        let arg = call.args.get(i);
        let fd = arg
            .and_then(Arg::num)
            .ok_or_else(|| malformed("no descriptor"))?;
        if let Some(e) = proc.fds.borrow().get(&fd) {
            return Ok(e.desc.clone());
        }
        let path = match arg {
            Some(Arg::Fd { path, .. }) => path_of(path),
            _ => None,
        };
        if let Some(p) = &path {
            if p.starts_with(&self.settings.dir) {
                return Err(unmodelled(format!(
                    "descriptor {fd} names {} under the directory but was opened before the \
                     program started or by a call that is not traced",
                    p.display()
                )));
            }
        }
        Ok(Rc::new(RefCell::new(Description {
            target: Target::Outside(path),
            offset: 0,
            append: false,
        })))
    }

    /// The absolute path a directory descriptor (or `AT_FDCWD`) stands for.
    pub(super) fn dir_path(&self, proc: &Process, arg: Option<&Arg>) -> Res<PathBuf> {
        let fd = arg
            .and_then(Arg::num)
            .ok_or_else(|| malformed("no directory descriptor"))?;
        if fd == AT_FDCWD {
            return Ok(proc.cwd.borrow().clone());
        }
        if let Some(e) = proc.fds.borrow().get(&fd) {
            match &e.desc.borrow().target {
                Target::Dir(rel) => return Ok(self.absolute(&Loc::In(rel.clone()))),
                Target::Outside(Some(p)) => return Ok(p.clone()),
                _ => {}
            }
        }
        match arg {
            Some(Arg::Fd { path, .. }) => path_of(path).ok_or_else(|| {
                malformed("a directory descriptor whose path strace could not show")
            }),
            _ => Err(malformed("an unknown directory descriptor")),
        }
    }

    /// Where `name`, relative to `dirfd` (or the cwd), lands.
    pub(super) fn resolve(&self, proc: &Process, dirfd: Option<&Arg>, name: &[u8]) -> Res<Loc> {
        let name = path_of(name).ok_or_else(|| malformed("a path that is not UTF-8"))?;
        let base = match dirfd {
            _ if name.is_absolute() => PathBuf::from("/"),
            None => proc.cwd.borrow().clone(),
            Some(arg) => self.dir_path(proc, Some(arg))?,
        };
        let mut out = PathBuf::from("/");
        for c in base.join(&name).components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(n) => out.push(n),
                _ => {}
            }
        }
        match out.strip_prefix(&self.settings.dir) {
            Ok(rest) if rest.as_os_str().is_empty() => Ok(Loc::In(RelPath::root())),
            Ok(rest) => {
                let s = rest.to_str().ok_or_else(|| malformed("a non-UTF-8 path"))?;
                RelPath::new(s)
                    .map(Loc::In)
                    .map_err(|e| malformed(&e.to_string()))
            }
            Err(_) => Ok(Loc::Out(out)),
        }
    }

    /// Where the path in argument `path_i` lands, relative to the directory descriptor in
    /// argument `dirfd` (an `*at` call) or to the current directory.
    pub(super) fn path_arg(
        &self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
    ) -> Res<Loc> {
        self.resolve(
            proc,
            dirfd.and_then(|i| call.args.get(i)),
            bytes(call, path_i)?,
        )
    }

    pub(super) fn absolute(&self, loc: &Loc) -> PathBuf {
        match loc {
            Loc::In(rel) if rel.is_root() => self.settings.dir.clone(),
            Loc::In(rel) => self.settings.dir.join(rel.as_str()),
            Loc::Out(p) => p.clone(),
        }
    }

    pub(super) fn install(&self, proc: &Process, fd: i64, target: Target, flags: i64) {
        let desc = Rc::new(RefCell::new(Description {
            target,
            offset: 0,
            append: flags & O_APPEND != 0,
        }));
        proc.fds.borrow_mut().insert(
            fd,
            FdEntry {
                desc,
                cloexec: flags & O_CLOEXEC != 0,
            },
        );
    }

    pub(super) fn dup(&self, proc: &Process, call: &Call, new_fd: i64, cloexec: bool) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        proc.fds
            .borrow_mut()
            .insert(new_fd, FdEntry { desc, cloexec });
        Ok(())
    }

    pub(super) fn fcntl(&self, proc: &Process, call: &Call, ret: i64) -> Res<()> {
        let cmd = num(call, 1)?;
        match cmd {
            F_DUPFD | F_DUPFD_CLOEXEC => self.dup(proc, call, ret, cmd == F_DUPFD_CLOEXEC),
            F_SETFD => {
                let fd = num(call, 0)?;
                let arg = num(call, 2)?;
                if let Some(e) = proc.fds.borrow_mut().get_mut(&fd) {
                    e.cloexec = arg & FD_CLOEXEC != 0;
                }
                Ok(())
            }
            F_SETFL => {
                let desc = self.desc(proc, call, 0)?;
                desc.borrow_mut().append = num(call, 2)? & O_APPEND != 0;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
