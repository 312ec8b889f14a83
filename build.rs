//! Embeds `personas/` and `prompts/` into the binary so an installed `troupe`
//! works from any directory. Each file becomes a `(name, contents)` pair.

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
    fs::write(Path::new(&out).join("builtin.rs"), code).expect("OUT_DIR is writable");
}
