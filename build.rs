//! Embeds `personas/`, `prompts/` and `lang/` into the binary so an installed
//! `troupe` works from any directory. Each file becomes a `(name, contents)`
//! pair; a `lang/` file's name is its path below `lang/` (`words/cues.toml`).

use std::{env, fs, path::Path};

fn main() {
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let mut code = String::new();
    for (dir, constant) in [("personas", "PERSONAS"), ("prompts", "PROMPTS")] {
        let path = Path::new(&root).join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
        let mut files: Vec<_> = fs::read_dir(&path)
            .expect("the personas/ and prompts/ directories exist in the source tree")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        code.push_str(&format!(
            "pub(crate) const {constant}: &[(&str, &str)] = &[\n"
        ));
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("embedded file names are UTF-8");
            println!("cargo:rerun-if-changed={}", file.display());
            code.push_str(&format!(
                "    ({name:?}, include_str!({:?})),\n",
                file.display().to_string()
            ));
        }
        code.push_str("];\n");
    }
    embed_language_data(Path::new(&root).join("lang"), &mut code);
    fs::write(Path::new(&out).join("builtin.rs"), code).expect("OUT_DIR is writable");
}

/// Writes `LANG`: every file one directory below `lang/` (`en/texts.toml`,
/// `words/cues.toml`), sorted by that name.
fn embed_language_data(lang: std::path::PathBuf, code: &mut String) {
    println!("cargo:rerun-if-changed={}", lang.display());
    let mut files = Vec::new();
    for dir in fs::read_dir(&lang).expect("the lang/ directory exists in the source tree") {
        let dir = dir.expect("lang/ is readable").path();
        if !dir.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", dir.display());
        for file in fs::read_dir(&dir).expect("lang/ subdirectories are readable") {
            let file = file.expect("lang/ subdirectories are readable").path();
            if file.is_file() {
                let name = file
                    .strip_prefix(&lang)
                    .expect("listed below lang/")
                    .to_str()
                    .expect("embedded file names are UTF-8")
                    .replace('\\', "/");
                files.push((name, file));
            }
        }
    }
    files.sort();
    code.push_str("pub(crate) const LANG: &[(&str, &str)] = &[\n");
    for (name, file) in files {
        println!("cargo:rerun-if-changed={}", file.display());
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    code.push_str("];\n");
}
