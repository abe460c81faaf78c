//! A parser of the log `strace -f --seccomp-bpf -qq -xx -X raw -y -e raw=read,readv -s CAP -o
//! FILE` writes (the command line is built in [`super::run`]).
//!
//! Every line starts with the pid of the process that made the call. `-xx` prints every string
//! as `\xNN` escapes, so a name holding quotes, commas or `>` parses exactly; `-y` appends the
//! path of each descriptor as `FD<PATH>` (the path hex-escaped too); `-X raw` prints flags as
//! numbers (`0x80241`, or `0x1200000|17` for `clone`'s flags and exit signal); `-e raw=read,readv`
//! prints those two calls' arguments and return value as bare numbers (`read(0x3, 0x7ffc…,
//! 0x1000) = 0x340`), without the bytes read. A call another
//! process interrupted is split over an `NAME(ARGS <unfinished ...>` line and a
//! `<... NAME resumed>REST` line of the same pid: [`parse_log`] joins them into one [`Call`].
//!
//! The calls come in the order they completed (a reasonable linearization of concurrent
//! calls), except the process-creating calls (`clone`, `clone3`, `fork`, `vfork`), which are put
//! where they started: the child's first calls may be logged before its parent's `clone`
//! returns, and must come after it.

use std::collections::BTreeMap;
use std::fmt;

/// One argument (or part of one) of a logged call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A string, decoded from its hex escapes; `truncated` when strace cut it at `-s CAP`.
    Str {
        /// The bytes.
        bytes: Vec<u8>,
        /// Whether strace printed `...` after it (the string was longer than the cap).
        truncated: bool,
    },
    /// A number, or numbers joined by `|` (OR-ed together).
    Num(i64),
    /// A descriptor with the path `-y` printed for it.
    Fd {
        /// The descriptor number.
        fd: i64,
        /// What `-y` printed (a path, or `pipe:[123]`, `socket:[..]`, ...).
        path: Vec<u8>,
    },
    /// `[a, b, ...]`.
    Array(Vec<Arg>),
    /// `{a, b, ...}` (a struct, its fields usually `Named`).
    Struct(Vec<Arg>),
    /// `name=value`.
    Named(String, Box<Arg>),
    /// `before => after` (an in/out argument).
    Changed(Box<Arg>, Box<Arg>),
    /// Anything else, as printed (`NULL`, `~[]`, an unknown word).
    Word(String),
}

impl Arg {
    /// The number, if this is one (a descriptor's number counts).
    pub fn num(&self) -> Option<i64> {
        match self {
            Arg::Num(n) | Arg::Fd { fd: n, .. } => Some(*n),
            Arg::Word(w) if w == "NULL" => Some(0),
            _ => None,
        }
    }

    /// The field called `name`, if this is a struct that has one (for an in/out argument, the
    /// value passed in).
    pub fn field(&self, name: &str) -> Option<&Arg> {
        match self {
            Arg::Changed(before, _) => before.field(name),
            Arg::Struct(fields) => fields.iter().find_map(|f| match f {
                Arg::Named(n, v) if n == name => Some(&**v),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// What a call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ret {
    /// A value (`= 3`, `= 0x7f..`), with the path `-y` printed when it is a descriptor.
    Value(i64, Option<Vec<u8>>),
    /// A failure: `= -1 ENOENT (No such file or directory)`.
    Error(String),
    /// `= ?`: the call never returned (the process exited or exec'd during it).
    Unknown,
}

/// One completed system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The syscall's name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Arg>,
    /// What it returned.
    pub ret: Ret,
}

impl Call {
    /// The return value, if the call succeeded.
    pub fn ok(&self) -> Option<i64> {
        match self.ret {
            Ret::Value(v, _) => Some(v),
            _ => None,
        }
    }
}

/// What one log record says about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A system call.
    Call(Call),
    /// `+++ exited with N +++`.
    Exited(i32),
    /// `+++ killed by SIGX +++`.
    Killed(String),
    /// `--- SIGX {...} ---`: a signal was delivered.
    Signal(String),
}

/// One record of the log, with the line(s) it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The process (thread) id.
    pub pid: u32,
    /// The 1-based number of the line the record starts on.
    pub line_no: usize,
    /// The original text: one line, or the unfinished and resumed lines joined by a newline.
    pub text: String,
    /// What happened.
    pub kind: EventKind,
}

/// A line of the log that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strace log line {line_no}: {reason}: {text}")]
pub struct ParseError {
    /// The 1-based line number.
    pub line_no: usize,
    /// What is wrong.
    pub reason: String,
    /// The line, cut to 300 characters.
    pub text: String,
}

fn error(line_no: usize, text: &str, reason: impl Into<String>) -> ParseError {
    let cut: String = text.chars().take(300).collect();
    ParseError {
        line_no,
        reason: reason.into(),
        text: cut,
    }
}

/// Whether a call creates a process or thread (placed where it started; see the module doc).
pub fn is_process_creation(name: &str) -> bool {
    matches!(name, "clone" | "clone3" | "fork" | "vfork")
}

const UNFINISHED: &str = " <unfinished ...>";

/// Parses a whole log; see the module doc for the order of the calls.
pub fn parse_log(text: &str) -> Result<Vec<Event>, ParseError> {
    // Each slot is an event, or a place held for a process-creating call still unfinished.
    let mut slots: Vec<Option<Event>> = Vec::new();
    let mut open: BTreeMap<u32, Unfinished> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let (pid, rest) = split_pid(raw).ok_or_else(|| error(line_no, raw, "no pid prefix"))?;
        let resumed = rest.starts_with("<... ");
        let mut part = match resumed {
            true => {
                let mut u = open
                    .remove(&pid)
                    .ok_or_else(|| error(line_no, raw, "resumed call never started"))?;
                let tail = resumed_tail(rest).map_err(|r| error(line_no, raw, r))?;
                u.body
                    .push_str(tail.strip_suffix(UNFINISHED).unwrap_or(tail));
                u.lines.push('\n');
                u.lines.push_str(raw);
                u
            }
            false => Unfinished {
                slot: None,
                line_no,
                body: rest.strip_suffix(UNFINISHED).unwrap_or(rest).to_string(),
                lines: raw.to_string(),
            },
        };
        if rest.ends_with(UNFINISHED) {
            if !resumed {
                let name = part.body.split('(').next().unwrap_or("");
                if is_process_creation(name) {
                    slots.push(None);
                    part.slot = Some(slots.len() - 1);
                }
            }
            if open.insert(pid, part).is_some() {
                return Err(error(line_no, raw, "two unfinished calls in one process"));
            }
            continue;
        }
        let kind = parse_record(&part.body).map_err(|r| error(line_no, raw, r))?;
        part.place(pid, kind, &mut slots);
    }
    // A call still unfinished at the end of the log never returned (the log was cut short).
    for (pid, mut part) in open {
        part.body.push_str(") = ?");
        let kind = parse_record(&part.body).map_err(|r| error(part.line_no, &part.lines, r))?;
        part.place(pid, kind, &mut slots);
    }
    Ok(slots.into_iter().flatten().collect())
}

/// A call seen so far: its unfinished line, and any resumed lines.
struct Unfinished {
    /// The place held for it (process-creating calls only).
    slot: Option<usize>,
    line_no: usize,
    /// `NAME(ARGS...` joined across the lines, without the pid.
    body: String,
    /// The original lines.
    lines: String,
}

impl Unfinished {
    fn place(self, pid: u32, kind: EventKind, slots: &mut Vec<Option<Event>>) {
        let event = Event {
            pid,
            line_no: self.line_no,
            text: self.lines,
            kind,
        };
        match self.slot {
            Some(s) => slots[s] = Some(event),
            None => slots.push(Some(event)),
        }
    }
}

/// `<... NAME resumed>REST` → `REST`.
fn resumed_tail(rest: &str) -> Result<&str, String> {
    let after = rest
        .strip_prefix("<... ")
        .ok_or("expected `<... NAME resumed>`")?;
    let end = after
        .find(" resumed>")
        .ok_or("expected `<... NAME resumed>`")?;
    Ok(&after[end + " resumed>".len()..])
}

fn split_pid(line: &str) -> Option<(u32, &str)> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let pid = line[..digits].parse().ok()?;
    Some((pid, line[digits..].trim_start()))
}

fn parse_record(body: &str) -> Result<EventKind, String> {
    if let Some(inner) = body.strip_prefix("+++ ") {
        let inner = inner.trim_end_matches(" +++");
        if let Some(code) = inner.strip_prefix("exited with ") {
            return code
                .trim()
                .parse()
                .map(EventKind::Exited)
                .map_err(|_| format!("bad exit code {code:?}"));
        }
        if let Some(sig) = inner.strip_prefix("killed by ") {
            let sig = sig.split_whitespace().next().unwrap_or("");
            return Ok(EventKind::Killed(sig.to_string()));
        }
        return Err("unknown `+++` record".into());
    }
    if let Some(inner) = body.strip_prefix("--- ") {
        let sig = inner.split_whitespace().next().unwrap_or("");
        return Ok(EventKind::Signal(sig.to_string()));
    }
    parse_call(body).map(EventKind::Call)
}

/// Parses `NAME(ARGS) = RET`.
fn parse_call(body: &str) -> Result<Call, String> {
    let open = body.find('(').ok_or("expected `NAME(`")?;
    let name = &body[..open];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("bad syscall name {name:?}"));
    }
    let mut p = Parser {
        s: body.as_bytes(),
        i: open + 1,
    };
    let args = p.list(b')')?;
    p.skip_ws();
    if !p.eat(b"=") {
        return Err("expected `= RET` after the arguments".into());
    }
    p.skip_ws();
    let ret = p.ret()?;
    Ok(Call {
        name: name.to_string(),
        args,
        ret,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// Comma-separated values up to `close` (consumed). Comments are dropped.
    fn list(&mut self, close: u8) -> Result<Vec<Arg>, String> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(format!("missing `{}`", close as char)),
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {}
            }
            if self.eat(b"/*") {
                self.skip_comment()?;
            } else if self.eat(b"...") {
                // An elided tail (`[a, b, ...]`).
            } else {
                out.push(self.value()?);
            }
            self.skip_ws();
            if self.eat(b"/*") {
                self.skip_comment()?;
                self.skip_ws();
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(format!("expected `,` or `{}`", close as char)),
            }
        }
    }

    fn skip_comment(&mut self) -> Result<(), String> {
        let end = find(&self.s[self.i..], b"*/").ok_or("unterminated comment")?;
        self.i += end + 2;
        Ok(())
    }

    fn value(&mut self) -> Result<Arg, String> {
        let v = self.single()?;
        let save = self.i;
        self.skip_ws();
        if self.eat(b"=>") {
            self.skip_ws();
            let after = self.single()?;
            return Ok(Arg::Changed(Box::new(v), Box::new(after)));
        }
        self.i = save;
        Ok(v)
    }

    fn single(&mut self) -> Result<Arg, String> {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'[') => {
                self.i += 1;
                self.list(b']').map(Arg::Array)
            }
            Some(b'{') => {
                self.i += 1;
                self.list(b'}').map(Arg::Struct)
            }
            _ => self.word(),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.i += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    bytes.push(self.escape()?);
                }
                Some(c) => {
                    // Not `-xx` output for this byte (strace prints some strings raw); keep it.
                    bytes.push(c);
                    self.i += 1;
                }
                None => return Err("unterminated string".into()),
            }
        }
        let truncated = self.eat(b"...");
        Ok(Arg::Str { bytes, truncated })
    }

    fn escape(&mut self) -> Result<u8, String> {
        let s = self.s;
        let i = self.i;
        if s.get(i + 1) == Some(&b'x') {
            let hex = s.get(i + 2..i + 4).ok_or("cut `\\x` escape")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "bad `\\x` escape")?;
            let b = u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?;
            self.i += 4;
            return Ok(b);
        }
        let c = *s.get(i + 1).ok_or("cut escape")?;
        self.i += 2;
        Ok(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'v' => 0x0b,
            b'f' => 0x0c,
            b'0' => 0,
            other => other,
        })
    }

    /// A number, `FD<PATH>`, `name=value`, or a bare word, up to `,`, `)`, `]`, `}` or ` `.
    fn word(&mut self) -> Result<Arg, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            match c {
                b',' | b')' | b']' | b'}' | b' ' => break,
                b'<' if self.i > start => {
                    let fd = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                    if let Ok(fd) = fd.parse::<i64>() {
                        self.i += 1;
                        let path = self.fd_path()?;
                        return Ok(Arg::Fd { fd, path });
                    }
                    self.i += 1;
                }
                b'=' => {
                    let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                    self.i += 1;
                    let v = self.value()?;
                    return Ok(Arg::Named(name, Box::new(v)));
                }
                b'"' | b'[' | b'{' if self.i > start => {
                    // `~[...]` and similar: keep the rest as one word.
                    let v = self.single()?;
                    let head = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                    let _ = v;
                    return Ok(Arg::Word(head));
                }
                _ => self.i += 1,
            }
        }
        if self.i == start {
            return Err("expected a value".into());
        }
        let w = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "non-UTF-8 word")?;
        Ok(parse_number(w).map_or_else(|| Arg::Word(w.to_string()), Arg::Num))
    }

    /// The path of `FD<PATH>` after the `<`, up to its `>` (consumed); hex-escaped by `-xx`.
    fn fd_path(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'>') => {
                    self.i += 1;
                    // `-y` marks a descriptor whose file was unlinked.
                    self.eat(b"(deleted)");
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
                None => return Err("unterminated `<path>`".into()),
            }
        }
    }

    fn ret(&mut self) -> Result<Ret, String> {
        if self.eat(b"?") {
            return Ok(Ret::Unknown);
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c != b' ' && c != b'<' && c != b'(')
        {
            self.i += 1;
        }
        let num = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "bad return value")?;
        let value = parse_number(num).ok_or_else(|| format!("bad return value {num:?}"))?;
        if self.eat(b"<") {
            let path = self.fd_path()?;
            return Ok(Ret::Value(value, Some(path)));
        }
        self.skip_ws();
        if value < 0 {
            let rest = std::str::from_utf8(&self.s[self.i..]).unwrap_or("");
            let errno = rest.split_whitespace().next().unwrap_or("").to_string();
            if errno.is_empty() || errno.starts_with('(') {
                return Ok(Ret::Error(format!("errno {}", -value)));
            }
            return Ok(Ret::Error(errno));
        }
        Ok(Ret::Value(value, None))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `123`, `-100`, `0x1f`, `0644` (octal), or numbers joined by `|`.
fn parse_number(w: &str) -> Option<i64> {
    let mut total = 0i64;
    for part in w.split('|') {
        let (neg, digits) = match part.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, part),
        };
        let v = if let Some(hex) = digits.strip_prefix("0x") {
            u64::from_str_radix(hex, 16).ok()? as i64
        } else if digits.len() > 1 && digits.starts_with('0') {
            i64::from_str_radix(&digits[1..], 8).ok()?
        } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()?
        } else {
            return None;
        };
        total |= if neg { -v } else { v };
    }
    Some(total)
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Str { bytes, truncated } => {
                write!(f, "{:?}", String::from_utf8_lossy(bytes))?;
                if *truncated {
                    f.write_str("...")?;
                }
                Ok(())
            }
            Arg::Num(n) => write!(f, "{n}"),
            Arg::Fd { fd, path } => write!(f, "{fd}<{}>", String::from_utf8_lossy(path)),
            Arg::Array(items) => {
                f.write_str("[")?;
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
            Arg::Struct(items) => {
                f.write_str("{")?;
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("}")
            }
            Arg::Named(n, v) => write!(f, "{n}={v}"),
            Arg::Changed(a, b) => write!(f, "{a} => {b}"),
            Arg::Word(w) => f.write_str(w),
        }
    }
}

/// The log line made readable: every hex-escaped string decoded (lossily, for display).
pub fn readable(event: &Event) -> String {
    match &event.kind {
        EventKind::Call(c) => {
            let args: Vec<String> = c.args.iter().map(|a| a.to_string()).collect();
            let ret = match &c.ret {
                Ret::Value(v, Some(p)) => format!("{v}<{}>", String::from_utf8_lossy(p)),
                Ret::Value(v, None) => v.to_string(),
                Ret::Error(e) => format!("-1 {e}"),
                Ret::Unknown => "?".to_string(),
            };
            let mut args = args.join(", ");
            if args.len() > 160 {
                let cut = (0..=160)
                    .rev()
                    .find(|&i| args.is_char_boundary(i))
                    .unwrap_or(0);
                args.truncate(cut);
                args.push('…');
            }
            format!("{} {}({args}) = {ret}", event.pid, c.name)
        }
        _ => event.text.clone(),
    }
}

#[cfg(test)]
mod tests;
