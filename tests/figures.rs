//! The manual's benchmark figures (docs/src/benchmarks.md) are printed by benchmarks: every block that
//! `scripts/bench-figures` writes names a benchmark that exists, says when,
//! where and how it was measured, and lists for each figure the key its
//! benchmark's source prints it as.

use std::path::Path;

/// README's benchmark blocks: (benchmark name, the block's text).
fn blocks(readme: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("<!-- bench:") {
        let after = &rest[start + "<!-- bench:".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        assert!(
            after[name.len()..].starts_with(" begin"),
            "a bench block starts with <!-- bench:{name} begin: {}",
            &after[..after.len().min(60)]
        );
        let end_marker = format!("<!-- bench:{name} end -->");
        let end = after
            .find(&end_marker)
            .unwrap_or_else(|| panic!("README's {name} block has no {end_marker}"));
        let body_start = after.find("-->\n").map_or(0, |i| i + "-->\n".len());
        out.push((name, after[body_start.min(end)..end].to_string()));
        rest = &after[end + end_marker.len()..];
    }
    out
}

/// The keys a block's table lists in its "printed as" column, per row.
fn listed_keys(block: &str) -> Vec<(String, Vec<String>)> {
    block
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| measure") && !l.starts_with("| ---"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_end_matches('|').split(" | ").collect();
            let printed = cells.last().copied().unwrap_or_default();
            let keys = printed
                .split(',')
                .map(|k| k.trim().trim_matches('`').to_string())
                .filter(|k| !k.is_empty())
                .collect();
            (line.to_string(), keys)
        })
        .collect()
}

#[test]
fn every_benchmark_figure_in_readme_is_printed_by_its_benchmark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("docs/src/benchmarks.md"))
        .expect("read docs/src/benchmarks.md");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let blocks = blocks(&readme);
    let names: Vec<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    for expected in ["due_query", "populate", "detect", "server"] {
        assert!(
            names.contains(&expected),
            "README has no {expected} block: {names:?}"
        );
    }
    for (name, block) in &blocks {
        assert!(
            manifest.contains(&format!("[[bench]]\nname = \"{name}\"")),
            "README's {name} block names no benchmark of Cargo.toml"
        );
        let source = std::fs::read_to_string(root.join("benches").join(format!("{name}.rs")))
            .unwrap_or_else(|e| panic!("benches/{name}.rs: {e}"));
        assert!(
            block.starts_with("Measured ")
                && block.contains(" at commit `")
                && block.contains(" cores, ")
                && block.contains(&format!("cargo bench --bench {name}`")),
            "README's {name} block says when, at which commit, on how many cores and how it was measured: {block}"
        );
        let rows = listed_keys(block);
        assert!(!rows.is_empty(), "README's {name} block has no figures");
        for (row, keys) in rows {
            assert!(!keys.is_empty(), "{name}: a figure without its key: {row}");
            for key in keys {
                assert!(
                    source.contains(&format!("\"{key}\"")),
                    "README quotes `{key}` from benches/{name}.rs, which does not print it: {row}"
                );
            }
        }
    }
}
