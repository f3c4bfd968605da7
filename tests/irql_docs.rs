//! Every public function, method, trait method, exported macro and `Drop` impl of the safe
//! layer states its IRQL in its doc comment (an `IRQL:` line, or the word `IRQL` in the doc
//! block), and every `Drop` doc says what a drop above APC_LEVEL does (it leaks the handle
//! instead of bugchecking). Issue 11 item 11.
//!
//! The check reads the sources (`src/**/*.rs`, except the raw `sys` bindings, whose IRQLs are
//! the reference's §1.0 table): a doc block is the run of `///` comments, attributes and
//! plain comments directly above the item.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "sys") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The doc block directly above line `at`: `///` lines, attributes and `//` comments.
fn doc_block(lines: &[&str], at: usize) -> String {
    let mut doc = Vec::new();
    let mut i = at;
    while i > 0 {
        i -= 1;
        let t = lines[i].trim_start();
        if t.starts_with("///") || t.starts_with("#[") || t.starts_with("//") {
            doc.push(t);
        } else if t.ends_with(")]") || t.ends_with("\",") || t.starts_with('"') {
            // The inner lines of a multi-line attribute.
            doc.push(t);
        } else {
            break;
        }
    }
    doc.reverse();
    doc.join("\n")
}

fn is_pub_fn(t: &str) -> bool {
    [
        "pub fn ",
        "pub const fn ",
        "pub unsafe fn ",
        "pub const unsafe fn ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

#[test]
fn every_public_item_states_its_irql() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    assert!(files.len() > 5, "found the sources in {}", root.display());
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        let mut in_pub_trait = false;
        let mut in_test_mod = false;
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            if t.starts_with("#[cfg(test)]") {
                in_test_mod = true;
            }
            if in_test_mod {
                continue;
            }
            if t.starts_with("pub trait ") || t.starts_with("pub unsafe trait ") {
                in_pub_trait = !t.ends_with("{}");
            } else if in_pub_trait && *line == "}" {
                in_pub_trait = false;
            }
            let trait_fn = in_pub_trait && (t.starts_with("fn ") || t.starts_with("unsafe fn "));
            let exported_macro =
                t.starts_with("macro_rules!") && doc_block(&lines, i).contains("#[macro_export]");
            if is_pub_fn(t) || trait_fn || exported_macro {
                checked += 1;
                if !doc_block(&lines, i).contains("IRQL") {
                    missing.push(format!("{name}:{}: {t}", i + 1));
                }
            }
            // `Drop` of a public type (a private type's drop is no public item).
            let public_drop = t.starts_with("impl") && t.contains(" Drop for ") && {
                let ty = t.split(" Drop for ").nth(1).unwrap_or("");
                let ty: String = ty
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                text.contains(&format!("pub struct {ty}"))
                    || text.contains(&format!("pub enum {ty}"))
            };
            if public_drop {
                checked += 1;
                // The doc may sit on the impl or on its `fn drop`.
                let on_impl = doc_block(&lines, i);
                let on_fn = lines[i + 1..]
                    .iter()
                    .position(|l| l.trim_start().starts_with("fn drop"))
                    .map(|k| doc_block(&lines, i + 1 + k))
                    .unwrap_or_default();
                let doc = format!("{on_impl}\n{on_fn}");
                if !doc.contains("IRQL") || !doc.contains("leak") {
                    missing.push(format!(
                        "{name}:{}: {t} (a Drop doc states its IRQL and that a drop above APC_LEVEL leaks)",
                        i + 1
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} public items found");
    assert!(
        missing.is_empty(),
        "{} public items do not state their IRQL in their docs:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
