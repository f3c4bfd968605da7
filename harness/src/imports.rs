//! The import resolver: `clfs.sys!*` to the emulator's thunks, `ntoskrnl.exe!*` to the
//! harness's kernel routines. Anything else is missing, and a missing import refuses the image.

use crate::error::LoadError;
use crate::pe::{Import, ImportSymbol};

/// `CLFS_LSN_NULL`, exported as data by clfs.sys.
static CLFS_LSN_NULL: u64 = clfs_emu::CLFS_LSN_NULL;
/// `CLFS_LSN_INVALID`, exported as data by clfs.sys.
static CLFS_LSN_INVALID: u64 = clfs_emu::CLFS_LSN_INVALID;

/// The DLLs the harness implements, case-insensitively, as the Windows loader matches them.
pub const DLLS: [&str; 2] = ["clfs.sys", "ntoskrnl.exe"];

/// The routine tables the harness binds from: `(dll, [(name, win64 entry)])`.
pub fn tables() -> [(&'static str, &'static [(&'static str, *const ())]); 2] {
    [
        ("clfs.sys", crate::clfs_thunks::EXPORTS),
        ("ntoskrnl.exe", crate::ntos::EXPORTS),
    ]
}

/// The address bound for `dll!name`, if the harness implements it: the routine's gate stub
/// (see `verifier::stack`: IRQL check, trace, low-resources simulation, stack switch), or
/// the data export's address.
pub fn lookup(dll: &str, name: &str) -> Option<usize> {
    let target = lookup_raw(dll, name)?;
    Some(crate::verifier::gate::gated(dll, name, target))
}

/// The routine or data export for `dll!name` itself, not its gate stub.
pub fn lookup_raw(dll: &str, name: &str) -> Option<usize> {
    let table: &[(&str, *const ())] = if dll.eq_ignore_ascii_case("clfs.sys") {
        match name {
            "CLFS_LSN_NULL" => return Some(core::ptr::addr_of!(CLFS_LSN_NULL) as usize),
            "CLFS_LSN_INVALID" => return Some(core::ptr::addr_of!(CLFS_LSN_INVALID) as usize),
            _ => crate::clfs_thunks::EXPORTS,
        }
    } else if dll.eq_ignore_ascii_case("ntoskrnl.exe") {
        crate::ntos::EXPORTS
    } else {
        return None;
    };
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a as usize)
}

/// Every routine the harness implements, as `dll!name`.
pub fn implemented() -> Vec<String> {
    let mut v: Vec<String> = crate::clfs_thunks::EXPORTS
        .iter()
        .map(|(n, _)| format!("clfs.sys!{n}"))
        .collect();
    v.push("clfs.sys!CLFS_LSN_NULL (data)".into());
    v.push("clfs.sys!CLFS_LSN_INVALID (data)".into());
    v.extend(
        crate::ntos::EXPORTS
            .iter()
            .map(|(n, _)| format!("ntoskrnl.exe!{n}")),
    );
    v
}

/// Resolves every import: `(import index, address)` pairs for [`crate::pe::PeImage::bind`],
/// or [`LoadError::MissingImports`] listing **every** import nobody implements.
pub fn resolve(imports: &[Import]) -> Result<Vec<(usize, u64)>, LoadError> {
    let mut bound = Vec::with_capacity(imports.len());
    let mut missing = Vec::new();
    for (i, imp) in imports.iter().enumerate() {
        let addr = match &imp.symbol {
            ImportSymbol::Name(n) => lookup(&imp.dll, n),
            ImportSymbol::Ordinal(_) => None,
        };
        match addr {
            Some(a) => bound.push((i, a as u64)),
            None => missing.push(imp.to_string()),
        }
    }
    if missing.is_empty() {
        Ok(bound)
    } else {
        Err(LoadError::MissingImports(missing))
    }
}
