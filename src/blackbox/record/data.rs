//! The calls that change file contents and sizes: write and its vectored and positioned
//! forms, truncate, fallocate, copies between descriptors, shared mappings; and the program's
//! standard output, whose lines are its acknowledgements.

use super::*;

impl Recorder<'_> {
    /// The bytes a write of `ret` bytes took from `buf`.
    pub(super) fn data<'b>(&self, _call: &Call, ret: i64, buf: &'b [u8]) -> Res<&'b [u8]> {
        let n = usize::try_from(ret).map_err(|_| malformed("a negative byte count"))?;
        buf.get(..n).ok_or(RecordErrorKind::Truncated)
    }

    pub(super) fn advance(&self, proc: &Process, call: &Call, ret: i64) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        desc.borrow_mut().offset += ret.max(0) as u64;
        Ok(())
    }

    pub(super) fn write(
        &mut self,
        proc: &Process,
        call: &Call,
        at: Option<i64>,
        data: &[u8],
    ) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        // Cross-check with `-y`: standard output redirected into DIR is not an ack channel.
        if matches!(desc.borrow().target, Target::Stdout) {
            if let Some(Arg::Fd { path, .. }) = call.args.first() {
                if path_of(path).is_some_and(|p| p.starts_with(&self.settings.dir)) {
                    return Err(unmodelled(
                        "the program's standard output is a file in the directory; redirect it \
                         elsewhere (its lines are the acknowledgements)",
                    ));
                }
            }
        }
        self.write_desc(&desc, at, data)
    }

    /// A write of `data` through `desc`, at `at` or at the description's offset.
    pub(super) fn write_desc(&mut self, desc: &Desc, at: Option<i64>, data: &[u8]) -> Res<()> {
        let mut d = desc.borrow_mut();
        let (append, cur) = (d.append, d.offset);
        match &mut d.target {
            Target::File(file) => {
                let offset = match at {
                    Some(o) => o as u64,
                    None if append => self.len_of(file)?,
                    None => cur,
                };
                if !data.is_empty() {
                    self.fs
                        .write_at(file, offset, data)
                        .map_err(RecordErrorKind::Diverged)?;
                }
                if at.is_none() {
                    d.offset = offset + data.len() as u64;
                }
                Ok(())
            }
            Target::Stdout => {
                drop(d);
                self.stdout(data);
                Ok(())
            }
            Target::Dir(_) => Err(malformed("a write to a directory")),
            Target::Outside(_) => {
                if at.is_none() {
                    d.offset += data.len() as u64;
                }
                Ok(())
            }
        }
    }

    /// The current length of an open file. Its path may name another file by now (after a
    /// rename), so the length is found through the handle: the first position with no byte.
    pub(super) fn len_of(&self, file: &SimFile) -> Res<u64> {
        let mut f = file.clone();
        let mut probe = [0u8; 1];
        let mut has_byte_at = |p: u64| {
            self.fs
                .read_at(&mut f, p, &mut probe)
                .map(|n| n == 1)
                .map_err(RecordErrorKind::Diverged)
        };
        // Double to an upper bound, then bisect: `lo` bytes exist, byte `hi - 1` does not.
        let (mut lo, mut hi) = (0u64, 1u64);
        while has_byte_at(hi - 1)? {
            lo = hi;
            hi *= 2;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if has_byte_at(mid - 1)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    pub(super) fn stdout(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.stdout_line).into_owned();
                self.stdout_line.clear();
                self.acks.push(self.fs.op_count(), line);
            } else {
                self.stdout_line.push(b);
            }
        }
    }

    pub(super) fn set_len(&self, desc: &Desc, len: u64) -> Res<()> {
        match &mut desc.borrow_mut().target {
            Target::File(file) => self
                .fs
                .set_len(file, len)
                .map_err(RecordErrorKind::Diverged),
            Target::Dir(_) => Err(malformed("a directory's length")),
            _ => Ok(()),
        }
    }

    pub(super) fn truncate_path(&self, proc: &Process, call: &Call) -> Res<()> {
        let loc = self.resolve(proc, None, bytes(call, 0)?)?;
        let Loc::In(rel) = loc else { return Ok(()) };
        let file = self.open_existing(&rel, true)?;
        let desc = Rc::new(RefCell::new(Description {
            target: Target::File(file),
            offset: 0,
            append: false,
        }));
        self.set_len(&desc, num(call, 1)? as u64)
    }

    pub(super) fn fallocate(&mut self, proc: &Process, call: &Call) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        let (mode, offset, len) = (num(call, 1)?, num(call, 2)? as u64, num(call, 3)? as u64);
        let file = match &desc.borrow().target {
            Target::File(f) => f.clone(),
            _ => return Ok(()),
        };
        let size = self.len_of(&file)?;
        match mode {
            0 if offset + len > size => self.set_len(&desc, offset + len),
            0 | FALLOC_FL_KEEP_SIZE => Ok(()),
            m if m == FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE => {
                let end = (offset + len).min(size);
                if end > offset {
                    let zeros = vec![0u8; (end - offset) as usize];
                    let mut f = file;
                    self.fs
                        .write_at(&mut f, offset, &zeros)
                        .map_err(RecordErrorKind::Diverged)?;
                }
                Ok(())
            }
            m => Err(unmodelled(format!("fallocate mode {m:#x}"))),
        }
    }

    /// `copy_file_range` / `sendfile`: the bytes come from the source descriptor; modelled when
    /// the source is under `DIR` too (its bytes are in the simulated directory).
    pub(super) fn copy(
        &mut self,
        proc: &Process,
        call: &Call,
        in_i: usize,
        out_i: usize,
        in_off_i: usize,
        ret: i64,
    ) -> Res<()> {
        let out = self.desc(proc, call, out_i)?;
        let input = self.desc(proc, call, in_i)?;
        let out_off_given = match call.name.as_str() {
            "copy_file_range" => pointer_value(call.args.get(3)),
            _ => None,
        };
        if !matches!(out.borrow().target, Target::File(_)) {
            // Into something outside DIR: only the source's offset moves.
            if pointer_value(call.args.get(in_off_i)).is_none() {
                input.borrow_mut().offset += ret.max(0) as u64;
            }
            return Ok(());
        }
        let Target::File(src) = input.borrow().target.clone() else {
            return Err(unmodelled(
                "a copy into the directory from outside it: the bytes are not in the log",
            ));
        };
        let in_off = pointer_value(call.args.get(in_off_i));
        let start = in_off.unwrap_or(input.borrow().offset);
        let mut buf = vec![0u8; ret.max(0) as usize];
        let mut src = src;
        let n = self
            .fs
            .read_at(&mut src, start, &mut buf)
            .map_err(RecordErrorKind::Diverged)?;
        if n != buf.len() {
            return Err(malformed(
                "the copy's source is shorter than what was copied",
            ));
        }
        if in_off.is_none() {
            input.borrow_mut().offset += n as u64;
        }
        let at = out_off_given.map(|o| o as i64);
        self.write_desc(&out, at, &buf)
    }

    pub(super) fn mmap(&self, proc: &Process, call: &Call) -> Res<()> {
        let (prot, flags, fd) = (num(call, 2)?, num(call, 3)?, num(call, 4)?);
        if fd < 0 || prot & PROT_WRITE == 0 || flags & MAP_SHARED == 0 {
            return Ok(());
        }
        let desc = self.desc(proc, call, 4)?;
        let d = desc.borrow();
        match &d.target {
            Target::File(file) if !self.settings.ignore_mmap => Err(unmodelled(format!(
                "a writable shared mmap of {}: its writes are not system calls (pass \
                 --ignore-mmap if that file's durability does not matter)",
                file.path()
            ))),
            _ => Ok(()),
        }
    }
}

/// The bytes of a `writev`-family call's iovec array (argument 2), in order.
pub(super) fn iovecs(call: &Call) -> Res<Vec<u8>> {
    let Some(Arg::Array(items)) = call.args.get(1) else {
        return Err(malformed("argument 2 is not an iovec array"));
    };
    let mut out = Vec::new();
    for item in items {
        match item.field("iov_base") {
            Some(Arg::Str { bytes, truncated }) => {
                let len = item.field("iov_len").and_then(Arg::num).unwrap_or(0) as usize;
                if *truncated && bytes.len() < len {
                    // Keep what strace showed; `data` refuses if the return value needs more.
                    out.extend_from_slice(bytes);
                    return Ok(out);
                }
                out.extend_from_slice(bytes);
            }
            _ => return Err(malformed("an iovec without iov_base")),
        }
    }
    Ok(out)
}
