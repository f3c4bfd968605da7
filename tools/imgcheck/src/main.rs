//! `clfs-imgcheck <image.sys> [--map <map file>] [--allow-hal] [--stack-budget <bytes>]`
//!
//! Checks a driver image of the clfs sample and prints one line per check, `PASS name` or
//! `FAIL name: why`. Exits 1 if any check failed, 2 on a usage or read error.

use std::process::ExitCode;

const USAGE: &str =
    "usage: clfs-imgcheck <image.sys> [--map <map file>] [--allow-hal] [--stack-budget <bytes>]";

fn main() -> ExitCode {
    let mut image = None;
    let mut map = None;
    let mut options = clfs_imgcheck::Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--map" => match args.next() {
                Some(path) => map = Some(path),
                None => return usage("--map needs a file"),
            },
            "--allow-hal" => options.allow_hal = true,
            "--stack-budget" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => options.stack_budget = n,
                None => return usage("--stack-budget needs a number of bytes"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with('-') => return usage(&format!("unknown option {arg}")),
            _ if image.is_none() => image = Some(arg),
            _ => return usage("more than one image"),
        }
    }
    let Some(image) = image else {
        return usage("no image given");
    };

    let data = match std::fs::read(&image) {
        Ok(data) => data,
        Err(e) => return error(&format!("cannot read {image}: {e}")),
    };
    let facts = match clfs_imgcheck::image_facts(&data) {
        Ok(facts) => facts,
        Err(e) => return error(&format!("{image}: {e}")),
    };
    let map = match map.map(|path| std::fs::read_to_string(&path).map_err(|e| (path, e))) {
        Some(Ok(text)) => Some(clfs_imgcheck::parse_map(&text)),
        Some(Err((path, e))) => return error(&format!("cannot read map file {path}: {e}")),
        None => None,
    };

    println!("clfs-imgcheck {image}");
    let outcomes = clfs_imgcheck::check(&facts, map.as_ref(), options);
    for outcome in &outcomes {
        println!("{outcome}");
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    if failed == 0 {
        println!("all {} checks passed", outcomes.len());
        ExitCode::SUCCESS
    } else {
        println!("{failed} of {} checks FAILED", outcomes.len());
        ExitCode::FAILURE
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("clfs-imgcheck: {why}\n{USAGE}");
    ExitCode::from(2)
}

fn error(why: &str) -> ExitCode {
    eprintln!("clfs-imgcheck: {why}");
    ExitCode::from(2)
}
