//! `docs/api-guide.md` maps every `clfs.sys` routine to its Rust call or to the reason it has
//! none: every routine the emulator exports (the one shared list, `clfs_emu::CLFS_ROUTINES`)
//! must have a row of its own, named exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[test]
fn every_exported_routine_has_a_row_in_the_api_guide() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api-guide.md"))
        .expect("docs/api-guide.md");
    let rows: Vec<&str> = guide.lines().filter(|l| l.starts_with("| `")).collect();
    let missing: Vec<&&str> = clfs_emu::CLFS_ROUTINES
        .iter()
        .filter(|r| {
            let name = format!("`{r}`");
            let first = |row: &&str| row.split('|').nth(1).is_some_and(|c| c.contains(&name));
            !rows.iter().any(first)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "routines without a row in docs/api-guide.md: {missing:?}"
    );
}
