//! Deterministic mutation of valid images: bit flips, byte stores, interesting header values
//! and truncations. The loader (parse, validate, resolve, map; never run) must answer each with
//! `Ok` or a `LoadError`, never a panic or a crash. The same path is fuzzed by
//! `harness/fuzz` (`cargo +nightly fuzz run load_image`).
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use clfs_harness::load_image;
use common::*;

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u32; 10] = [
    0,
    1,
    0x7F,
    0x200,
    0x1000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_F000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let hot = 0x400.min(b.len()); // the headers: where mutations matter most
        match rng.below(5) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if hot > 0 => {
                let i = rng.below(hot);
                b[i] ^= 1 << rng.below(8);
            }
            2 if hot >= 4 => {
                let i = rng.below(hot - 3) & !3;
                let v = INTERESTING[rng.below(INTERESTING.len())];
                b[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            3 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            _ => {
                let len = rng.below(b.len() + 1);
                b.truncate(len);
                if b.is_empty() {
                    return b;
                }
            }
        }
    }
    b
}

fn seeds() -> Vec<Vec<u8>> {
    let mut with_imports = Pe::new(
        RET_SUCCESS,
        &[
            ("ntoskrnl.exe", &["ExAllocatePool2", "KeGetCurrentIrql"]),
            ("clfs.sys", &["ClfsCreateLogFile"]),
        ],
    );
    with_imports.data = vec![0; 16];
    with_imports.relocs = vec![DATA, DATA + 8];
    let mut v = vec![Pe::new(RET_SUCCESS, &[]).build(), with_imports.build()];
    if let Some(p) = sample_image() {
        v.push(std::fs::read(p).unwrap());
    }
    v
}

#[test]
fn mutated_images_are_refused_or_loaded_never_crash() {
    let seeds = seeds();
    let iterations = 30_000;
    let mut rng = Rng(0x5EED_C1F5_0000_0001);
    let (mut ok, mut refused) = (0u32, 0u32);
    for i in 0..iterations {
        let seed = &seeds[i % seeds.len()];
        let m = mutate(&mut rng, seed);
        match std::panic::catch_unwind(|| load_image(&m).map(drop)) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
            Err(_) => panic!(
                "iteration {i}: the loader panicked on a mutated image ({} bytes)",
                m.len()
            ),
        }
    }
    eprintln!("{iterations} mutated images: {ok} loaded, {refused} refused");
    assert!(refused > 0 && ok > 0);
}

#[test]
fn every_truncation_of_a_valid_image_is_refused() {
    for seed in seeds() {
        let full = load_image(&seed);
        assert!(full.is_ok(), "{:?}", full.err());
        // The last section's raw data ends the file, so every cut loses something the
        // image declares.
        for len in 0..seed.len() {
            assert!(
                load_image(&seed[..len]).is_err(),
                "truncated to {len} bytes: accepted"
            );
        }
    }
}

/// Writes the seed images into `$CLFS_HARNESS_WRITE_SEEDS` (the fuzz corpus directory):
/// `CLFS_HARNESS_WRITE_SEEDS=harness/fuzz/corpus/load_image cargo test -p clfs-harness --test mutation write_seeds`.
#[test]
fn write_seeds() {
    let Some(dir) = std::env::var_os("CLFS_HARNESS_WRITE_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    for (i, seed) in seeds().iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}.sys")), seed).unwrap();
        for cut in [0x40, 0x188, 0x400, seed.len() / 2, seed.len() - 1] {
            std::fs::write(dir.join(format!("seed-{i}-cut-{cut:x}.sys")), &seed[..cut]).unwrap();
        }
    }
}
