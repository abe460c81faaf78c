//! Replay tokens: one printable string, without spaces, that names one checked crash state.
//!
//! Grammar (fields separated by `:`):
//!
//! ```text
//! token   = "cs2" ":" subject ":" model ":" "s=" SEED ":" "k=" K ":" "b=" BLOCK_SIZE
//!           ":" "f=" FULL_BOUND ":" "n=" SAMPLES ":" "e=" fault ":" "c=" crash ":" "p=" path
//! fault   = "-" | kind "@" CALL            ; kind = "eio" | "nospace"; CALL = mutating call index
//! crash   = "power"                        ; a power loss in the workload
//!         | "process@" CP *( "/" CP )      ; the process died at crash point CP of the workload,
//!                                          ;   recovery ran on the live view; each further CP
//!                                          ;   is a process crash inside that recovery (a point
//!                                          ;   of the trace extended by it)
//! path    = "-" | step *( "/" step )       ; one step per level: the power-loss state, then each
//! step    = CRASH_POINT "." STATE_INDEX    ;   crash inside the recovery before ("-": none, the
//!                                          ;   recovery on the live view itself failed)
//! ```
//!
//! For a process crash, the first step's crash point is a point of the trace made of the
//! workload's operations before the process crash and the operations of the recovery run on the
//! live view. Tokens of the first version (`cs1`, ten fields, no `c=`) still parse, as power
//! losses.
//!
//! `subject` and `model` are percent-encoded: every byte outside `A-Z a-z 0-9 . _ + -` is written
//! `%XX`. Numbers are decimal. Example: `cs2:atomic-replace:posix:s=0:k=2:b=4096:f=4096:n=16:
//! e=-:c=power:p=12.3/1.0` (without the line break) is state 3 of crash point 12 of the workload, then
//! state 0 of crash point 1 of the recovery run on it.

use super::fs::{Fault, FaultKind};
use std::fmt;

/// A parsed replay token; see the module doc for the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayToken {
    /// The subject's name ([`super::Subject::name`]).
    pub subject: String,
    /// The model's name ([`super::Model::name`]).
    pub model: String,
    /// The seed of the random samples.
    pub seed: u64,
    /// The `k` of the bounded enumeration.
    pub k: usize,
    /// The torn-write block size.
    pub block_size: usize,
    /// The full-enumeration bound.
    pub full_bound: usize,
    /// How many random samples per crash point past the bound.
    pub samples: usize,
    /// The injected fault, if any.
    pub fault: Option<Fault>,
    /// The process crash points, outermost first; empty for a power loss.
    pub process: Vec<usize>,
    /// `(crash point, state index)` at each level: the workload, then each recovery crashed in.
    pub path: Vec<(usize, usize)>,
}

fn encode(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"._+-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad %-escape %{hex}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "name is not UTF-8".to_string())
}

impl fmt::Display for ReplayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::from("cs2:");
        encode(&self.subject, &mut s);
        s.push(':');
        encode(&self.model, &mut s);
        s.push_str(&format!(
            ":s={}:k={}:b={}:f={}:n={}:e=",
            self.seed, self.k, self.block_size, self.full_bound, self.samples
        ));
        match self.fault {
            None => s.push('-'),
            Some(fault) => s.push_str(&format!("{}@{}", fault.kind.name(), fault.at)),
        }
        if self.process.is_empty() {
            s.push_str(":c=power");
        } else {
            let points: Vec<String> = self.process.iter().map(|cp| cp.to_string()).collect();
            s.push_str(&format!(":c=process@{}", points.join("/")));
        }
        s.push_str(":p=");
        if self.path.is_empty() {
            s.push('-');
        }
        let steps: Vec<String> = self
            .path
            .iter()
            .map(|(cp, i)| format!("{cp}.{i}"))
            .collect();
        s.push_str(&steps.join("/"));
        f.write_str(&s)
    }
}

fn number<T: std::str::FromStr>(field: &str, prefix: &str) -> Result<T, String> {
    let value = field
        .strip_prefix(prefix)
        .ok_or_else(|| format!("expected field {prefix}…, found {field:?}"))?;
    value
        .parse()
        .map_err(|_| format!("bad number in {field:?}"))
}

/// Parses a replay token (see the module doc for the grammar).
pub fn parse_token(token: &str) -> Result<ReplayToken, String> {
    let mut fields: Vec<&str> = token.trim().split(':').collect();
    let process = match (fields.first().copied(), fields.len()) {
        (Some("cs1"), 10) => Vec::new(),
        (Some("cs2"), 11) => parse_crash(fields.remove(9))?,
        _ => {
            return Err(format!(
                "not a crashsafe replay token (cs2:…, 11 fields): {token:?}"
            ))
        }
    };
    let fault = match fields[8].strip_prefix("e=").ok_or("expected field e=…")? {
        "-" => None,
        f => {
            let (kind, at) = f
                .split_once('@')
                .ok_or_else(|| format!("bad fault {f:?}"))?;
            let kind = match kind {
                "eio" => FaultKind::Eio,
                "nospace" => FaultKind::NoSpace,
                other => return Err(format!("unknown fault kind {other:?}")),
            };
            Some(Fault {
                at: at.parse().map_err(|_| format!("bad fault {f:?}"))?,
                kind,
            })
        }
    };
    let path_field = fields[9].strip_prefix("p=").ok_or("expected field p=…")?;
    let mut path = Vec::new();
    let steps = match path_field {
        "-" if !process.is_empty() => None,
        other => Some(other.split('/')),
    };
    for step in steps.into_iter().flatten() {
        let (cp, i) = step
            .split_once('.')
            .ok_or_else(|| format!("bad step {step:?}"))?;
        let cp = cp
            .parse()
            .map_err(|_| format!("bad crash point in {step:?}"))?;
        path.push((
            cp,
            i.parse()
                .map_err(|_| format!("bad state index in {step:?}"))?,
        ));
    }
    Ok(ReplayToken {
        subject: decode(fields[1])?,
        model: decode(fields[2])?,
        seed: number(fields[3], "s=")?,
        k: number(fields[4], "k=")?,
        block_size: number(fields[5], "b=")?,
        full_bound: number(fields[6], "f=")?,
        samples: number(fields[7], "n=")?,
        fault,
        process,
        path,
    })
}

/// Parses the `c=` field: `power`, or `process@CP[/CP…]`.
fn parse_crash(field: &str) -> Result<Vec<usize>, String> {
    match field.strip_prefix("c=").ok_or("expected field c=…")? {
        "power" => Ok(Vec::new()),
        other => {
            let points = other
                .strip_prefix("process@")
                .ok_or_else(|| format!("unknown crash kind {other:?}"))?;
            points
                .split('/')
                .map(|cp| {
                    cp.parse()
                        .map_err(|_| format!("bad process crash point {cp:?}"))
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_have_no_spaces() {
        let t = ReplayToken {
            subject: "journal: 3 files/100%".into(),
            model: "ext4-ordered".into(),
            seed: 42,
            k: 2,
            block_size: 512,
            full_bound: 4096,
            samples: 16,
            fault: Some(Fault {
                at: 7,
                kind: FaultKind::NoSpace,
            }),
            process: Vec::new(),
            path: vec![(12, 3), (1, 0)],
        };
        let s = t.to_string();
        assert!(
            !s.contains(' ') && s.chars().all(|c| c.is_ascii_graphic()),
            "{s}"
        );
        assert_eq!(
            s,
            "cs2:journal%3A%203%20files%2F100%25:ext4-ordered:s=42:k=2:b=512:f=4096:n=16:\
             e=nospace@7:c=power:p=12.3/1.0"
        );
        assert_eq!(parse_token(&s).unwrap(), t);
        // A first-version token is a power loss.
        let v1 = "cs1:journal%3A%203%20files%2F100%25:ext4-ordered:s=42:k=2:b=512:f=4096:n=16:\
                  e=nospace@7:p=12.3/1.0";
        assert_eq!(parse_token(v1).unwrap(), t);
        // A process crash, nested once, and one whose recovery on the live view failed.
        let process = ReplayToken {
            process: vec![9, 14],
            ..t.clone()
        };
        let s = process.to_string();
        assert!(s.contains(":c=process@9/14:p=12.3/1.0"), "{s}");
        assert_eq!(parse_token(&s).unwrap(), process);
        let failed = ReplayToken {
            process: vec![9],
            path: Vec::new(),
            ..t.clone()
        };
        let s = failed.to_string();
        assert!(s.ends_with(":c=process@9:p=-"), "{s}");
        assert_eq!(parse_token(&s).unwrap(), failed);
        let plain = ReplayToken {
            fault: None,
            path: vec![(0, 0)],
            ..t
        };
        assert_eq!(parse_token(&plain.to_string()).unwrap(), plain);
    }

    #[test]
    fn bad_tokens_are_errors() {
        for bad in [
            "",
            "cs2:a:b",
            "cs1:a:posix:s=x:k=2:b=1:f=1:n=1:e=-:p=1.0",
            "cs1:a:posix:s=1:k=2:b=1:f=1:n=1:e=boom@1:p=1.0",
            "cs1:a:posix:s=1:k=2:b=1:f=1:n=1:e=-:p=1",
            "cs2:a:posix:s=1:k=2:b=1:f=1:n=1:e=-:c=crash:p=1.0",
            "cs2:a:posix:s=1:k=2:b=1:f=1:n=1:e=-:c=process@x:p=1.0",
            "cs2:a:posix:s=1:k=2:b=1:f=1:n=1:e=-:c=power:p=-",
        ] {
            assert!(parse_token(bad).is_err(), "{bad}");
        }
    }
}
