//! `clfs.sys` for the driver: one `extern "win64"` thunk per routine the emulator implements.
//!
//! The driver calls its imports with the Windows x64 calling convention; `clfs_emu`'s routines
//! are `extern "system"`, which on Linux is the SysV C ABI. Each thunk below is an
//! `extern "win64"` function with the routine's parameter list (each parameter in its win64
//! form, [`Win64`]) that calls the emulator's function (or an adapter, where the arguments need
//! translating). The thunks are generated from `clfs_emu::clfs_routines!`, the emulator's one
//! list of exported routines and signatures, so a routine the emulator exports always has a
//! thunk, and the compiler checks each thunk against the emulator's signature.

#![allow(non_snake_case)]

use clfs_emu::types::{PALLOCATE_FUNCTION, PFREE_FUNCTION};

use crate::callbacks::{Win64Alloc, Win64Free};
use crate::mgmt_callbacks::Win64SetSizeComplete;
use clfs_emu::types::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK;

/// A Windows `BOOLEAN` as the driver passes it: any non-zero byte is TRUE. (Taking a Rust
/// `bool` from foreign code would be undefined behaviour for values other than 0 and 1.)
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct Boolean(pub u8);

/// Converts a win64 argument to the type the emulator's routine takes.
pub trait Arg {
    /// The emulator-side type.
    type Emu;
    /// The conversion.
    fn emu(self) -> Self::Emu;
}

macro_rules! identity_args {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            type Emu = $t;
            fn emu(self) -> $t {
                self
            }
        }
    )*};
}
identity_args!(u8, u16, u32, i32, u64, i64, usize, Win64Alloc, Win64Free);

/// The win64 form in which the driver passes a parameter of an emulator-side type.
pub trait Win64 {
    /// The type the thunk takes from the driver.
    type Raw: Arg;
}

macro_rules! same_in_win64 {
    ($($t:ty),*) => {$(
        impl Win64 for $t {
            type Raw = $t;
        }
    )*};
}
same_in_win64!(u8, u16, u32, i32, u64, i64, usize);

impl<T> Win64 for *const T {
    type Raw = *const T;
}

impl<T> Win64 for *mut T {
    type Raw = *mut T;
}

impl Win64 for bool {
    type Raw = Boolean;
}

/// A callback pointer comes as a win64 function: only an adapter (which wraps it in a SysV
/// adapter) can take it, so a routine with a callback parameter needs a `@target` entry.
impl Win64 for PALLOCATE_FUNCTION {
    type Raw = Win64Alloc;
}

impl Win64 for PFREE_FUNCTION {
    type Raw = Win64Free;
}

impl Win64 for PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK {
    type Raw = Win64SetSizeComplete;
}

impl<T> Arg for *const T {
    type Emu = *const T;
    fn emu(self) -> *const T {
        self
    }
}

impl<T> Arg for *mut T {
    type Emu = *mut T;
    fn emu(self) -> *mut T {
        self
    }
}

impl Arg for Boolean {
    type Emu = bool;
    fn emu(self) -> bool {
        self.0 != 0
    }
}

/// Generates one `extern "win64"` thunk per listed routine, and [`EXPORTS`], the name to
/// thunk-address table the import resolver binds `clfs.sys!*` from. Expanded from
/// `clfs_emu::clfs_routines!`.
///
/// Each thunk calls `clfs_emu::Name`, or the adapter named by a `@target` rule below.
macro_rules! clfs_thunks {
    ($( $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty; )*) => {
        /// The thunks, one per routine.
        pub mod thunk {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = concat!("win64 thunk of `clfs.sys!", stringify!($name), "`.")]
                ///
                /// # Safety
                /// Called by driver code with the routine's documented arguments.
                #[allow(clippy::too_many_arguments)]
                pub unsafe extern "win64" fn $name($($arg: <$ty as Win64>::Raw),*) -> $ret {
                    // SAFETY: the driver's arguments are passed on unchanged (or converted by
                    // `Arg`) to the emulator's routine of the same signature; its contract is
                    // the driver's.
                    unsafe { clfs_thunks!(@target $name)($(Arg::emu($arg)),*) }
                }
            )*
        }

        /// `clfs.sys` exports implemented by the emulator: name and win64 thunk address.
        pub const EXPORTS: &[(&str, *const ())] = &[
            $( (stringify!($name), thunk::$name as *const ()), )*
        ];
    };
    // Adapters: routines whose arguments need more than a per-argument conversion.
    (@target ClfsCreateMarshallingArea) => { crate::callbacks::create_marshalling_area };
    (@target ClfsCreateMarshallingAreaEx) => { crate::callbacks::create_marshalling_area_ex };
    // The registration holds win64 callbacks (same layout, another ABI).
    (@target ClfsMgmtRegisterManagedClient) => {
        crate::mgmt_callbacks::register_managed_client
    };
    (@target ClfsMgmtDeregisterManagedClient) => {
        crate::mgmt_callbacks::deregister_managed_client
    };
    (@target $name:ident) => { clfs_emu::$name };
}

clfs_emu::clfs_routines!(clfs_thunks);
