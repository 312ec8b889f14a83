//! The README and the manual in `docs/` hold together: every relative link
//! leads to a file that exists (and to a heading that exists, when it names
//! one), every page is in the book's table of contents, and the README stays
//! short enough to read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README and every page of the book.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs/src"))
        .expect("docs/src is part of the repository")
        .map(|entry| entry.expect("docs/src is readable").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

/// Markdown without its fenced code blocks and inline code, where a
/// bracket is not a link.
fn prose(markdown: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of the `[text](target)` links of a document.
fn links(markdown: &str) -> Vec<String> {
    let text = prose(markdown);
    let mut found = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            found.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    found
}

/// GitHub's and mdBook's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a document's headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut found = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with('#') {
            found.insert(slug(line.trim_start_matches('#')));
        }
    }
    found
}

fn is_external(target: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| target.starts_with(scheme))
}

/// What is wrong with one link of `document`, if anything.
fn broken(document: &Path, target: &str) -> Option<String> {
    if is_external(target) {
        return None;
    }
    let (file, anchor) = match target.split_once('#') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (target, None),
    };
    let linked = if file.is_empty() {
        document.to_path_buf()
    } else {
        document.parent()?.join(file)
    };
    if !linked.exists() {
        return Some(format!("{target}: no file {}", linked.display()));
    }
    let anchor = anchor?;
    let is_markdown = linked.extension().is_some_and(|e| e == "md");
    let text = std::fs::read_to_string(&linked).ok()?;
    (is_markdown && !anchors(&text).contains(anchor))
        .then(|| format!("{target}: no heading #{anchor} in {}", linked.display()))
}

#[test]
fn every_link_in_the_readme_and_the_manual_resolves() {
    let mut problems = Vec::new();
    for document in documents() {
        let text = std::fs::read_to_string(&document).expect("documents are readable");
        for target in links(&text) {
            if let Some(problem) = broken(&document, &target) {
                problems.push(format!("{}: {problem}", document.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_page_of_the_manual_is_in_its_table_of_contents() {
    let summary = std::fs::read_to_string(root().join("docs/src/SUMMARY.md"))
        .expect("docs/src/SUMMARY.md is the book's table of contents");
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    for page in documents().iter().skip(1) {
        let name = page
            .file_name()
            .and_then(|n| n.to_str())
            .expect("page names are UTF-8");
        if name != "SUMMARY.md" {
            assert!(listed.contains(name), "{name} is missing from SUMMARY.md");
        }
    }
}

#[test]
fn the_readme_stays_under_ten_thousand_characters() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md exists");
    let length = readme.chars().count();
    assert!(
        length < 10_000,
        "README.md has {length} characters: move details into docs/"
    );
}

#[test]
fn the_link_checker_catches_a_missing_page_and_a_missing_heading() {
    let readme = root().join("README.md");
    assert!(broken(&readme, "docs/src/nowhere.md").is_some());
    assert!(broken(&readme, "docs/src/architecture.md#no-such-heading").is_some());
    assert!(broken(&readme, "docs/src/architecture.md#one-chat-turn").is_none());
    assert!(broken(&readme, "https://example.com/anything").is_none());
    assert_eq!(slug(" Serving: the HTTP API"), "serving-the-http-api");
}
