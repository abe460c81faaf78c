//! The rules of `crashsafe::path::RelPath`, one test per rule: what a path may be made of, its
//! length caps at exactly the limit and one byte over, the root, and the operations the journal
//! builds paths with (`parent`, `file_name`, `join`, `starts_with`) and prints them with.

use crashsafe::path::{PathError, RelPath, MAX_NAME_LEN, MAX_PATH_LEN};

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// A path of exactly `len` bytes, in components of 200 bytes or so (each under `MAX_NAME_LEN`).
fn path_of_len(len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() < len {
        let room = len - s.len();
        if !s.is_empty() && room >= 2 {
            s.push('/');
        }
        let n = (len - s.len()).min(200);
        s.extend(std::iter::repeat_n('a', n));
    }
    assert_eq!(s.len(), len);
    s
}

#[test]
fn a_path_of_exactly_max_path_len_bytes_is_accepted() {
    let s = path_of_len(MAX_PATH_LEN);
    assert_eq!(MAX_PATH_LEN, 4095);
    assert_eq!(p(&s).as_str(), s);
}

#[test]
fn a_path_one_byte_over_max_path_len_is_too_long() {
    let s = path_of_len(MAX_PATH_LEN + 1);
    assert!(s
        .split('/')
        .all(|c| !c.is_empty() && c.len() <= MAX_NAME_LEN));
    assert!(matches!(RelPath::new(&s), Err(PathError::TooLong(_))));
}

#[test]
fn a_component_of_exactly_max_name_len_bytes_is_accepted() {
    assert_eq!(MAX_NAME_LEN, 255);
    let name = "n".repeat(MAX_NAME_LEN);
    assert_eq!(p(&name).as_str(), name);
    assert_eq!(p(&format!("dir/{name}/x")).file_name(), Some("x"));
}

#[test]
fn a_component_one_byte_over_max_name_len_is_too_long() {
    let name = "n".repeat(MAX_NAME_LEN + 1);
    assert!(matches!(RelPath::new(&name), Err(PathError::TooLong(_))));
    let inner = format!("dir/{name}/x");
    assert!(matches!(RelPath::new(&inner), Err(PathError::TooLong(_))));
}

#[test]
fn a_too_long_error_quotes_the_first_64_characters_and_an_ellipsis() {
    let long = "é".repeat(200); // 400 bytes in one component: over the name cap
    let expected = format!("{}…", "é".repeat(64));
    assert_eq!(
        RelPath::new(&long),
        Err(PathError::TooLong(expected.clone()))
    );
    let over = path_of_len(MAX_PATH_LEN + 1);
    let expected = format!("{}…", &over[..64]);
    assert_eq!(RelPath::new(&over), Err(PathError::TooLong(expected)));
}

#[test]
fn each_unsafe_form_is_refused_with_its_own_error_naming_the_path() {
    let cases: [(&str, PathError); 9] = [
        ("", PathError::Empty),
        ("/etc/passwd", PathError::Absolute("/etc/passwd".into())),
        ("/", PathError::Absolute("/".into())),
        ("..", PathError::ParentComponent("..".into())),
        ("a/../b", PathError::ParentComponent("a/../b".into())),
        ("a/.", PathError::CurrentComponent("a/.".into())),
        ("a//b", PathError::EmptyComponent("a//b".into())),
        ("a/b/", PathError::EmptyComponent("a/b/".into())),
        ("a\0b", PathError::Nul("a\0b".into())),
    ];
    for (input, error) in cases {
        assert_eq!(RelPath::new(input), Err(error), "{input:?}");
    }
}

#[test]
fn names_made_only_of_dots_beyond_two_and_dotfiles_are_plain() {
    for s in ["...", ".hidden", "a/..b", "b../c", ".crashsafe/journal"] {
        assert_eq!(p(s).as_str(), s);
    }
}

#[test]
fn the_root_has_no_components_no_parent_no_name_and_prints_as_a_dot() {
    let root = RelPath::root();
    assert!(root.is_root());
    assert_eq!(root.as_str(), "");
    assert_eq!(root.components().count(), 0);
    assert_eq!(root.parent(), None);
    assert_eq!(root.file_name(), None);
    assert_eq!(root.to_string(), ".");
    assert_eq!(format!("{root:?}"), "\"\"");
    assert_eq!(String::from(root), "");
}

#[test]
fn a_path_is_not_the_root_and_prints_as_itself() {
    let a = p("docs/a.txt");
    assert!(!a.is_root());
    assert_eq!(a.as_str(), "docs/a.txt");
    assert_eq!(a.to_string(), "docs/a.txt");
    assert_eq!(format!("{a:?}"), "\"docs/a.txt\"");
    assert_eq!(String::from(a), "docs/a.txt");
}

#[test]
fn components_parent_and_file_name_split_at_the_last_slash() {
    let c = p("a/bb/c.txt");
    assert_eq!(c.components().collect::<Vec<_>>(), ["a", "bb", "c.txt"]);
    assert_eq!(c.components().next_back(), Some("c.txt"));
    assert_eq!(c.parent(), Some(p("a/bb")));
    assert_eq!(c.file_name(), Some("c.txt"));
    let top = p("top");
    assert_eq!(top.components().collect::<Vec<_>>(), ["top"]);
    assert_eq!(top.parent(), Some(RelPath::root()));
    assert_eq!(top.file_name(), Some("top"));
}

#[test]
fn join_appends_under_a_directory_and_under_the_root_and_checks_the_result() {
    assert_eq!(p("a/b").join("c"), Ok(p("a/b/c")));
    assert_eq!(p("a").join("b/c"), Ok(p("a/b/c")));
    assert_eq!(RelPath::root().join("x/y"), Ok(p("x/y")));
    assert_eq!(
        p("a").join(".."),
        Err(PathError::ParentComponent("a/..".into()))
    );
    assert_eq!(p("a").join(""), Err(PathError::EmptyComponent("a/".into())));
    assert_eq!(RelPath::root().join(""), Err(PathError::Empty));
    assert_eq!(
        RelPath::root().join("/x"),
        Err(PathError::Absolute("/x".into()))
    );
}

#[test]
fn starts_with_holds_for_the_root_itself_and_descendants_only() {
    let dir = p("a/b");
    assert!(
        p("x").starts_with(&RelPath::root()),
        "everything is under the root"
    );
    assert!(RelPath::root().starts_with(&RelPath::root()));
    assert!(dir.starts_with(&dir), "a path is under itself");
    assert!(p("a/b/c").starts_with(&dir));
    assert!(p("a/b/c/d").starts_with(&dir));
    assert!(
        !p("a/bc").starts_with(&dir),
        "a longer sibling name is not below"
    );
    assert!(
        !p("a").starts_with(&dir),
        "an ancestor is not below its descendant"
    );
    assert!(!p("z/b").starts_with(&dir));
    assert!(!RelPath::root().starts_with(&dir));
}

#[test]
fn a_string_converts_only_when_it_is_a_safe_path() {
    assert_eq!(RelPath::try_from("a/b".to_string()), Ok(p("a/b")));
    assert_eq!(
        RelPath::try_from("../x".to_string()),
        Err(PathError::ParentComponent("../x".into()))
    );
}

#[test]
fn sibling_names_a_path_in_the_same_directory() {
    assert_eq!(p("a/b").sibling("c"), Ok(p("a/c")));
    assert_eq!(p("a/b").sibling("c/d"), Ok(p("a/c/d")));
    assert_eq!(p("a").sibling("c"), Ok(p("c")));
    assert_eq!(RelPath::root().sibling("c"), Ok(p("c")));
    for (path, name) in [("a/b/c", "x"), ("a", "x/y"), ("", "x")] {
        let path = if path.is_empty() {
            RelPath::root()
        } else {
            p(path)
        };
        let by_parent = path.parent().unwrap_or_else(RelPath::root).join(name);
        assert_eq!(path.sibling(name), by_parent);
    }
}

#[test]
fn sibling_checks_the_new_name_and_an_error_quotes_the_whole_path() {
    let ab = p("a/b");
    assert_eq!(
        ab.sibling(".."),
        Err(PathError::ParentComponent("a/..".into()))
    );
    assert_eq!(
        ab.sibling("."),
        Err(PathError::CurrentComponent("a/.".into()))
    );
    assert_eq!(ab.sibling(""), Err(PathError::EmptyComponent("a/".into())));
    assert_eq!(
        ab.sibling("/x"),
        Err(PathError::EmptyComponent("a//x".into()))
    );
    assert_eq!(ab.sibling("x\0"), Err(PathError::Nul("a/x\0".into())));
    assert_eq!(p("a").sibling(""), Err(PathError::Empty));
    assert_eq!(
        RelPath::root().sibling("/x"),
        Err(PathError::Absolute("/x".into()))
    );
}

#[test]
fn join_refuses_a_nul_or_an_over_long_name_in_the_appended_part() {
    assert_eq!(p("a").join("b\0c"), Err(PathError::Nul("a/b\0c".into())));
    let name = "n".repeat(MAX_NAME_LEN + 1);
    let whole = format!("a/{name}");
    let quoted = whole.chars().take(64).collect::<String>() + "…";
    assert_eq!(p("a").join(&name), Err(PathError::TooLong(quoted)));
    assert_eq!(
        p("a")
            .join(&"n".repeat(MAX_NAME_LEN))
            .unwrap()
            .as_str()
            .len(),
        257
    );
}

#[test]
fn a_joined_path_of_max_path_len_is_accepted_and_one_byte_more_is_too_long() {
    let dir = p(&path_of_len(MAX_PATH_LEN - 2));
    assert_eq!(dir.join("x").unwrap().as_str().len(), MAX_PATH_LEN);
    let whole = format!("{}/xy", dir.as_str());
    let quoted = whole.chars().take(64).collect::<String>() + "…";
    assert_eq!(dir.join("xy"), Err(PathError::TooLong(quoted)));
}

#[test]
fn join_looks_only_at_the_appended_components_even_after_a_name_ending_in_a_dot() {
    // A directory whose last name ends in `.` followed by the new part must not read as a `.`
    // or `..` component, nor the `/` between them as an empty one.
    assert_eq!(p("x.").join("y"), Ok(p("x./y")));
    assert_eq!(p("a/x..").join("y"), Ok(p("a/x../y")));
    assert_eq!(p("x.").sibling("y"), Ok(p("y")));
    assert_eq!(p("d/x.").sibling("y"), Ok(p("d/y")));
    assert_eq!(
        p("x.").join(".."),
        Err(PathError::ParentComponent("x./..".into()))
    );
}
