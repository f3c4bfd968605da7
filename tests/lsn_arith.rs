//! LSN arithmetic: `Lsn::increment`, `Lsn::decrement` and `Lsn::difference` against the
//! emulator's exported `ClfsLsnIncrement`, `ClfsLaterLsn`, `ClfsEarlierLsn` and
//! `ClfsLsnDifference`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use clfs::{Error, Lsn};
use clfs_emu::status::{STATUS_INTEGER_OVERFLOW, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use clfs_emu::types::CLS_LSN;
use clfs_emu::Sandbox;
use proptest::prelude::*;

fn raw(l: Lsn) -> CLS_LSN {
    CLS_LSN { Internal: l.raw() }
}

/// The emulator's answer for one unary helper, as an `Option`.
fn emu1(f: unsafe extern "system" fn(*const CLS_LSN) -> CLS_LSN, l: Lsn) -> Option<Lsn> {
    let r = raw(l);
    // SAFETY: a valid pointer to a local LSN.
    let out = unsafe { f(&r) };
    Lsn::from_raw(out.Internal).valid()
}

fn emu_difference(start: Lsn, finish: Lsn, cont: u32, block: u32) -> (i32, i64) {
    let (a, b) = (raw(start), raw(finish));
    let mut d = 0x5A5A_i64;
    // SAFETY: valid pointers to locals.
    let st = unsafe { clfs_emu::ClfsLsnDifference(&a, &b, cont, block, &mut d) };
    (st, d)
}

/// LSNs with a bias to the edges: the ends of the record and offset fields, the last
/// container, `CLFS_LSN_INVALID` and the values above it.
fn any_lsn() -> impl Strategy<Value = Lsn> {
    let part = prop_oneof![
        Just(0u32),
        Just(1u32),
        Just(0xFFFF_FFFE),
        Just(0xFFFF_FFFF),
        any::<u32>()
    ];
    let rec = prop_oneof![Just(0u32), Just(510), Just(511), 0u32..512];
    let off = prop_oneof![
        Just(0u32),
        Just(0xFFFF_FE00),
        (0u32..0x7F_FFFF).prop_map(|o| o << 9)
    ];
    prop_oneof![
        (part, off, rec)
            .prop_map(|(c, o, r)| Lsn::from_raw((u64::from(c) << 32) | u64::from(o | r))),
        any::<u64>().prop_map(Lsn::from_raw),
        Just(Lsn::INVALID),
        Just(Lsn::NULL),
        Just(Lsn::from_raw(Lsn::INVALID.raw() - 1)),
    ]
}

fn geometry() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        // Usual: 512 KiB .. 4 GiB containers, 512 B .. 64 KiB blocks.
        (
            (1u32..8192).prop_map(|k| k * 512 * 1024),
            (1u32..128).prop_map(|k| k * 512)
        ),
        // Anything, including the refusals.
        (any::<u32>(), any::<u32>()),
        (Just(0xFFFF_FE00u32), Just(0x1000u32)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn increment_and_decrement_agree_with_the_emulator(l in any_lsn()) {
        prop_assert_eq!(l.increment(), emu1(clfs_emu::ClfsLsnIncrement, l));
        prop_assert_eq!(l.increment(), emu1(clfs_emu::ClfsLaterLsn, l));
        prop_assert_eq!(l.decrement(), emu1(clfs_emu::ClfsEarlierLsn, l));
        // The model: the next value of the encoding, and never past INVALID.
        if let Some(n) = l.increment() {
            prop_assert!(l < n && n < Lsn::INVALID);
            prop_assert_eq!(n.decrement(), Some(l));
        }
        if let Some(p) = l.decrement() {
            prop_assert!(p < l);
            prop_assert_eq!(p.increment(), Some(l));
        }
    }

    #[test]
    fn difference_agrees_with_the_emulator(
        a in any_lsn(),
        b in any_lsn(),
        (cont, block) in geometry(),
    ) {
        let rust = b.difference(a, cont, block);
        let (st, d) = emu_difference(a, b, cont, block);
        match rust {
            Ok(v) => {
                prop_assert_eq!(st, STATUS_SUCCESS);
                prop_assert_eq!(v, d);
                prop_assert_eq!(a.difference(b, cont, block), Ok(-v));
                prop_assert_eq!(v == 0, a.container() == b.container() && a.block_offset() == b.block_offset());
                prop_assert_eq!(v > 0, b > a && !(a.container() == b.container() && a.block_offset() == b.block_offset()));
            }
            Err(Error::LsnDifferenceOverflow { .. }) => {
                prop_assert_eq!(st, STATUS_INTEGER_OVERFLOW);
                prop_assert_eq!(d, 0x5A5A, "output written on failure");
            }
            Err(e) => {
                prop_assert!(matches!(
                    e,
                    Error::InvalidLsn { .. } | Error::BadLogGeometry { .. } | Error::LsnBeyondContainer { .. }
                ), "{e}");
                prop_assert_eq!(st, STATUS_INVALID_PARAMETER);
                prop_assert_eq!(d, 0x5A5A, "output written on failure");
            }
        }
    }
}

#[test]
fn increment_walks_records_blocks_and_containers() {
    let l = |c, o, r| Lsn::new(c, o, r).unwrap();
    assert_eq!(l(0, 0, 0).increment(), Some(l(0, 0, 1)));
    assert_eq!(l(0, 0x200, 511).increment(), Some(l(0, 0x400, 0)));
    assert_eq!(l(3, 0xFFFF_FE00, 511).increment(), Some(l(4, 0, 0)));
    // The last LSN before INVALID has no successor; INVALID and above have none either.
    let last = Lsn::from_raw(Lsn::INVALID.raw() - 1);
    assert_eq!(last.increment(), None);
    assert_eq!(Lsn::INVALID.increment(), None);
    assert_eq!(Lsn::from_raw(u64::MAX).increment(), None);
    assert_eq!(Lsn::NULL.decrement(), None);
    assert_eq!(l(4, 0, 0).decrement(), Some(l(3, 0xFFFF_FE00, 511)));
}

#[test]
fn difference_refusals_name_the_values_and_make_no_call() {
    let sb = Sandbox::new();
    let a = Lsn::new(0, 0x1000, 0).unwrap();
    let b = Lsn::new(1, 0x200, 0).unwrap();
    let before = sb.stats();
    assert_eq!(
        b.difference(a, 1000, 512).unwrap_err().to_string(),
        "container size 1000 and maximum block size 512 must both be non-zero multiples of 512, \
         with the block no larger than the container"
    );
    assert_eq!(
        b.difference(a, 0x800, 0x200).unwrap_err().to_string(),
        "LSN 0:0x1000:0 has block offset 0x1000, which is not inside a 2048-byte container"
    );
    assert_eq!(
        Lsn::INVALID.difference(a, 0x10_0000, 0x1000).unwrap_err(),
        Error::InvalidLsn {
            what: "the finish LSN of a difference"
        }
    );
    let far = Lsn::new(0xFFFF_FFFE, 0, 0).unwrap();
    assert_eq!(
        far.difference(Lsn::NULL, 0xFFFF_FE00, 0x1000)
            .unwrap_err()
            .to_string(),
        "the byte difference from LSN 0:0x0:0 to LSN 4294967294:0x0:0 does not fit in 64 bits"
    );
    // The library computes in Rust: the emulator's helpers were never called.
    let after = sb.stats();
    for r in [
        "ClfsLsnDifference",
        "ClfsLsnIncrement",
        "ClfsLaterLsn",
        "ClfsEarlierLsn",
    ] {
        assert_eq!(after.calls(r), before.calls(r), "{r} was called");
    }
    // The same bad input through the raw exports: the documented statuses.
    assert_eq!(emu_difference(a, b, 1000, 512).0, STATUS_INVALID_PARAMETER);
    assert_eq!(
        emu_difference(a, b, 0x800, 0x200).0,
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        emu_difference(a, Lsn::INVALID, 0x10_0000, 0x1000).0,
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        emu_difference(Lsn::NULL, far, 0xFFFF_FE00, 0x1000).0,
        STATUS_INTEGER_OVERFLOW
    );
    let mut d = 0i64;
    // SAFETY: NULL LSN pointers are refused; `d` is a valid output.
    let st = unsafe {
        clfs_emu::ClfsLsnDifference(core::ptr::null(), core::ptr::null(), 0x1000, 0x200, &mut d)
    };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    assert_eq!(sb.stats().calls("ClfsLsnDifference"), 5);
    // The helpers are pure: they never show up as log calls.
    assert_eq!(sb.stats().clfs_calls(), 0);
    assert!(sb.stats().leaks().is_empty());
}

#[test]
fn lsn_helpers_run_at_any_irql() {
    let sb = Sandbox::new();
    let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
    let a = Lsn::new(0, 0x200, 511).unwrap();
    assert_eq!(a.increment(), emu1(clfs_emu::ClfsLsnIncrement, a));
    assert_eq!(a.decrement(), emu1(clfs_emu::ClfsEarlierLsn, a));
    assert_eq!(emu_difference(a, a, 0x1000, 0x200), (STATUS_SUCCESS, 0));
    drop(_irql);
    assert!(sb.stats().leaks().is_empty());
}
