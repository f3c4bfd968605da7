//! The rust block of docs/testing.md ("A test"), compiled and run: the block below is the
//! doc's text verbatim, and `the_block_of_docs_testing_md_is_this_file` fails when they drift.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
#![allow(dead_code)] // the driver's logic module has items only the driver image uses

const DOC: &str = include_str!("../../../docs/testing.md");
const THIS_FILE: &str = include_str!("testing_doc.rs");

// docs/testing.md, "A test", from here:
// samples/clfs-sample-driver/tests/testing_doc.rs: the driver crate is a cdylib, so its tests
// compile the driver's logic (src/logic.rs, which calls clfs) as a module.
#[path = "../src/logic.rs"]
mod logic;

#[test]
fn startup_record_is_logged() {
    static SLOT: logic::LogSlot = logic::LogSlot::new();
    let sandbox = clfs_emu::Sandbox::new(); // fresh temp root + fresh accounts for this thread
    let running = logic::start(
        &SLOT,
        logic::LOG_NAME,
        logic::CONTAINERS,
        logic::CONTAINER_SIZE,
    )
    .unwrap(); // calls clfs exactly as in the kernel
    running.stop().unwrap(); // flush, restart area, delete the area, close the log
    let stats = sandbox.stats();
    assert_eq!(stats.calls("ClfsCreateMarshallingArea"), 1);
    assert!(stats.leaks().is_empty(), "{:?}", stats.leaks());
}
// (to here)

#[test]
fn the_block_of_docs_testing_md_is_this_file() {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in DOC.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some((rest.trim().to_owned(), Vec::new())),
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    let rust: Vec<Vec<&str>> = blocks
        .into_iter()
        .filter(|(lang, _)| lang == "rust")
        .map(|(_, lines)| lines)
        .collect();
    assert_eq!(
        rust.len(),
        1,
        "docs/testing.md's rust blocks changed: update this file"
    );
    let start = THIS_FILE
        .find("// docs/testing.md, \"A test\", from here:\n")
        .expect("marker");
    let end = THIS_FILE.find("// (to here)\n").expect("marker");
    let here: Vec<&str> = THIS_FILE[start..end].lines().skip(1).collect();
    assert_eq!(
        rust[0], here,
        "docs/testing.md's rust block is not this file's test, line for line"
    );
}
