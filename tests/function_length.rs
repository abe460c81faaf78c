//! The project's rule "no function over 60 lines without a reason in its doc comment", checked
//! on every Rust file of the repository (`src/`, `tests/`, `benches/`, `examples/`,
//! `fuzz/fuzz_targets/`). A function counts from the line of its `fn` to the line of its closing
//! brace. One that must be longer (a table: one arm per syscall, one entry per workload) says so
//! in its doc comment with the words "Long because", followed by the reason.
//!
//! The story: issue #13 found `oracle::check` at 153 lines, `run_protocol` at 100 and
//! `engine::visit` at 74 with `#[allow(clippy::too_many_arguments)]`; they were split over two
//! sessions, and a later merge brought two functions back over the limit (`recover_with` and the
//! CLI's `print_recovery`, when recovery gained its sweep) without anyone noticing. This test
//! notices.

use std::path::{Path, PathBuf};

/// The most lines a function may span without a reason.
const LIMIT: usize = 60;

/// The words a doc comment uses to say why its function is longer.
const REASON: &str = "Long because";

/// A function over the limit with no reason given.
#[derive(Debug)]
struct LongFunction {
    file: PathBuf,
    line: usize,
    name: String,
    lines: usize,
}

/// Replaces comments, string literals and character literals by spaces (newlines kept), so that
/// braces and `fn` inside them are not read as code.
fn blank(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let wipe = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        let after_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            wipe(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            wipe(&mut out, i, j);
            i = j;
        } else if let Some(len) = raw_string_len(rest).filter(|_| !after_ident) {
            wipe(&mut out, i, i + len);
            i += len;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            wipe(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            let len = char_literal_len(rest);
            wipe(&mut out, i, i + len);
            i += len.max(1);
        } else {
            i += 1;
        }
    }
    out
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`, `br"…"`) at the start of `s`.
fn raw_string_len(s: &[u8]) -> Option<usize> {
    let start = if s.starts_with(b"br") {
        2
    } else {
        usize::from(s.starts_with(b"r"))
    };
    if start == 0 {
        return None;
    }
    let hashes = s[start..].iter().take_while(|&&c| c == b'#').count();
    if s.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let body = start + hashes + 1;
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let end = s[body..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map_or(s.len(), |p| body + p + close.len());
    Some(end)
}

/// The length of a character literal at the start of `s` (`'a'`, `'\n'`, `'\u{1F600}'`), or 0
/// for a lifetime or a label.
fn char_literal_len(s: &[u8]) -> usize {
    if s.get(1) == Some(&b'\\') {
        return s[2..].iter().position(|&c| c == b'\'').map_or(0, |p| p + 3);
    }
    let ch_len = std::str::from_utf8(&s[1..s.len().min(5)])
        .or_else(|e| std::str::from_utf8(&s[1..1 + e.valid_up_to()]))
        .ok()
        .and_then(|t| t.chars().next())
        .map_or(1, char::len_utf8);
    if s.get(1 + ch_len) == Some(&b'\'') {
        ch_len + 2
    } else {
        0
    }
}

/// Whether the doc comment right above line `line` (1-based; attributes skipped) gives a reason.
fn has_reason(lines: &[&str], line: usize) -> bool {
    let mut doc = Vec::new();
    for l in lines[..line - 1].iter().rev().map(|l| l.trim()) {
        if l.starts_with("///") {
            doc.push(l);
        } else if !l.starts_with("#[") {
            break;
        }
    }
    doc.iter().any(|l| l.contains(REASON))
}

/// The functions of `src` (the text of `file`) over the limit without a reason.
fn long_functions(file: &Path, src: &str) -> Vec<LongFunction> {
    let code = blank(src);
    let lines: Vec<&str> = src.lines().collect();
    let line_of = |pos: usize| code[..pos].iter().filter(|&&c| c == b'\n').count() + 1;
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].windows(3).position(|w| w == b"fn ") {
        let at = i + p;
        i = at + 3;
        if at > 0 && (code[at - 1].is_ascii_alphanumeric() || code[at - 1] == b'_') {
            continue;
        }
        let name: String = code[i..]
            .iter()
            .skip_while(|c| c.is_ascii_whitespace())
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .map(|&c| c as char)
            .collect();
        let Some(open) = body_start(&code, i) else {
            continue;
        };
        let Some(close) = matching_brace(&code, open) else {
            continue;
        };
        let (first, last) = (line_of(at), line_of(close));
        if last - first + 1 > LIMIT && !has_reason(&lines, first) {
            found.push(LongFunction {
                file: file.to_path_buf(),
                line: first,
                name,
                lines: last - first + 1,
            });
        }
    }
    found
}

/// Where the body of the function whose signature starts at `from` opens: the first `{` outside
/// brackets, or `None` for a declaration without a body (`;`).
fn body_start(code: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (j, &c) in code.iter().enumerate().skip(from) {
        match c {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' if depth == 0 => return Some(j),
            b';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The position of the brace closing the one at `open`.
fn matching_brace(code: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in code.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// Every `.rs` file under `dir`, in name order (none if `dir` is missing).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_function_is_over_sixty_lines_without_a_reason_in_its_doc_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples", "fuzz/fuzz_targets"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let long: Vec<LongFunction> = files
        .iter()
        .flat_map(|f| long_functions(f, &std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(
        long.is_empty(),
        "functions over {LIMIT} lines without \"{REASON}\" in their doc comment:\n{}",
        long.iter()
            .map(|l| format!(
                "  {}:{} {} ({} lines)",
                l.file.display(),
                l.line,
                l.name,
                l.lines
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The scanner itself: a 61-line function is found, a 60-line one is not, one with a reason is
/// not, and braces and `fn` inside strings, comments and character literals do not count.
#[test]
fn the_scanner_counts_from_fn_to_its_closing_brace_and_ignores_literals() {
    let body = |n: usize| "    let _ = 1;\n".repeat(n);
    // `fn` line + n body lines + closing brace.
    let at_limit = format!("fn ok() {{\n{}}}\n", body(LIMIT - 2));
    let over = format!("fn too_long() {{\n{}}}\n", body(LIMIT - 1));
    let excused = format!("/// Long because it is a table.\n#[inline]\n{over}");
    let tricky = format!(
        "fn tricky() {{\n    let _ = \"}} fn x() {{\";\n    let _ = '}}';\n    // }}\n    let _ = r#\"}}\"#;\n{}}}\n",
        body(LIMIT - 5)
    );
    let p = Path::new("x.rs");
    assert!(long_functions(p, &at_limit).is_empty());
    let found = long_functions(p, &over);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].name.as_str(), found[0].lines),
        ("too_long", LIMIT + 1)
    );
    assert!(long_functions(p, &excused).is_empty());
    let found = long_functions(p, &tricky);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].name.as_str(), found[0].lines),
        ("tricky", LIMIT + 1)
    );
}
