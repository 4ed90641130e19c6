//! The layering rule of `src/lib.rs`: a module imports only from modules
//! listed before it. Checked on the source text, so a new upward import
//! fails CI instead of waiting for a reviewer.

use std::path::{Path, PathBuf};

/// Bottom-up, as `src/lib.rs` lists them.
const ORDER: &[&str] = &[
    "id",
    "protocol",
    "engine",
    "client",
    "socket",
    "adapter",
    "rooms",
    "namespace",
    "io",
    "config",
    "sails",
    "server",
    "demo",
    "fuzzing",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable source dir") {
            rust_files(&entry.expect("dir entry").path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

#[test]
fn modules_import_only_from_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (level, module) in ORDER.iter().enumerate() {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        rust_files(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "module {module} not found");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + "crate::".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if let Some(target) = ORDER.iter().position(|m| *m == name)
                        && target > level
                    {
                        violations.push(format!(
                            "{}:{}: {module} imports {name}",
                            file.display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "upward imports:\n{}",
        violations.join("\n")
    );
}
