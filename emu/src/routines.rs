//! The one list of `clfs.sys` routines the emulator exports, with their signatures.
//!
//! [`clfs_routines!`](crate::clfs_routines) hands the list to a macro of the caller's choosing.
//! Three consumers expand it, so none of them can drift from the others:
//! - this crate checks at compile time that each listed routine exists at the crate root with
//!   exactly the listed `extern "system"` type, and builds its call counters from the names
//!   (a `count_call!` of a name that is not listed does not compile);
//! - `harness/` generates one win64 thunk per listed routine (the driver's import table is
//!   bound from those thunks);
//! - a test of this crate reads every source file and fails if some
//!   `pub unsafe extern "system" fn Clfs*` is not listed.
//!
//! Adding a routine: implement it in the emulator, re-export it at the crate root, add one
//! line here. The harness picks it up without an edit (unless a parameter type needs a new
//! win64 conversion, which then fails to compile there until it is written).

/// Expands `$callback! { Name(arg: Type, ...) -> Ret; ... }` with every `clfs.sys` routine
/// the emulator exports, each with its emulator-side (`extern "system"`) parameter list.
///
/// Types are written as `$crate::types::...` paths (or primitives), so the expansion
/// resolves in any crate. `bool` stands for the C `BOOLEAN` (one byte).
///
/// ```
/// macro_rules! count {
///     ($( $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty; )*) => {
///         [$(stringify!($name)),*].len()
///     };
/// }
/// let n = clfs_emu::clfs_routines!(count);
/// assert!(n >= 35);
/// ```
#[macro_export]
macro_rules! clfs_routines {
    ($callback:ident) => {
        $callback! {
            ClfsCreateLogFile(
                pplfolog: *mut *mut $crate::types::FILE_OBJECT,
                puszlogfilename: *const $crate::types::UNICODE_STRING,
                fdesiredaccess: u32,
                dwsharemode: u32,
                psdlogfile: $crate::types::PSECURITY_DESCRIPTOR,
                fcreatedisposition: u32,
                fcreateoptions: u32,
                fflagsandattributes: u32,
                flogoptionflag: u32,
                pvcontext: *const ::core::ffi::c_void,
                cbcontext: u32,
            ) -> $crate::types::NTSTATUS;
            ClfsCloseLogFileObject(
                plfolog: *const $crate::types::FILE_OBJECT,
            ) -> $crate::types::NTSTATUS;
            ClfsCloseAndResetLogFile(
                plfolog: *const $crate::types::FILE_OBJECT,
            ) -> $crate::types::NTSTATUS;
            ClfsDeleteLogFile(
                puszlogfilename: *const $crate::types::UNICODE_STRING,
                pvreserved: *const ::core::ffi::c_void,
                flogoptionflag: u32,
                pvcontext: *const ::core::ffi::c_void,
                cbcontext: u32,
            ) -> $crate::types::NTSTATUS;
            ClfsDeleteLogByPointer(
                plfolog: *const $crate::types::FILE_OBJECT,
            ) -> $crate::types::NTSTATUS;
            ClfsAddLogContainer(
                plfolog: *const $crate::types::FILE_OBJECT,
                pcbcontainer: *const u64,
                puszcontainerpath: *const $crate::types::UNICODE_STRING,
            ) -> $crate::types::NTSTATUS;
            ClfsAddLogContainerSet(
                plfolog: *const $crate::types::FILE_OBJECT,
                ccontainers: u16,
                pcbcontainer: *const u64,
                rguszcontainerpath: *const $crate::types::UNICODE_STRING,
            ) -> $crate::types::NTSTATUS;
            ClfsRemoveLogContainer(
                plfolog: *const $crate::types::FILE_OBJECT,
                puszcontainerpath: *const $crate::types::UNICODE_STRING,
                fforce: bool,
            ) -> $crate::types::NTSTATUS;
            ClfsRemoveLogContainerSet(
                plfolog: *const $crate::types::FILE_OBJECT,
                ccontainers: u16,
                rgwszcontainerpath: *const $crate::types::UNICODE_STRING,
                fforce: bool,
            ) -> $crate::types::NTSTATUS;
            ClfsQueryLogFileInformation(
                plfolog: *const $crate::types::FILE_OBJECT,
                einformationclass: $crate::types::CLS_LOG_INFORMATION_CLASS,
                pinfoinputbuffer: *const ::core::ffi::c_void,
                cbinfoinputbuffer: u32,
                pinfobuffer: *mut ::core::ffi::c_void,
                pcbinfobuffer: *mut u32,
            ) -> $crate::types::NTSTATUS;
            ClfsCreateMarshallingArea(
                plfolog: *const $crate::types::FILE_OBJECT,
                epooltype: $crate::types::POOL_TYPE,
                pfnallocbuffer: $crate::types::PALLOCATE_FUNCTION,
                pfnfreebuffer: $crate::types::PFREE_FUNCTION,
                cbmarshallingbuffer: u32,
                cmaxwritebuffers: u32,
                cmaxreadbuffers: u32,
                ppvmarshalcontext: *mut *mut ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsDeleteMarshallingArea(
                pvmarshalcontext: *const ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsReserveAndAppendLog(
                pvmarshalcontext: *const ::core::ffi::c_void,
                rgwriteentries: *const $crate::types::CLS_WRITE_ENTRY,
                cwriteentries: u32,
                plsnundonext: *const $crate::types::CLS_LSN,
                plsnprevious: *const $crate::types::CLS_LSN,
                creserverecords: u32,
                rgcbreservation: *mut i64,
                fflags: u32,
                plsn: *mut $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsReserveAndAppendLogAligned(
                pvmarshalcontext: *const ::core::ffi::c_void,
                rgwriteentries: *const $crate::types::CLS_WRITE_ENTRY,
                cwriteentries: u32,
                cbentryalignment: u32,
                plsnundonext: *const $crate::types::CLS_LSN,
                plsnprevious: *const $crate::types::CLS_LSN,
                creserverecords: u32,
                rgcbreservation: *mut i64,
                fflags: u32,
                plsn: *mut $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsAlignReservedLog(
                pvmarshalcontext: *const ::core::ffi::c_void,
                crecords: u32,
                rgcbreservation: *const i64,
                pcbalignreservation: *mut i64,
            ) -> $crate::types::NTSTATUS;
            ClfsAllocReservedLog(
                pvmarshalcontext: *const ::core::ffi::c_void,
                crecords: u32,
                pcbadjustment: *const i64,
            ) -> $crate::types::NTSTATUS;
            ClfsFreeReservedLog(
                pvmarshalcontext: *const ::core::ffi::c_void,
                crecords: u32,
                pcbadjustment: *const i64,
            ) -> $crate::types::NTSTATUS;
            ClfsFlushToLsn(
                pvmarshalcontext: *const ::core::ffi::c_void,
                plsnflush: *const $crate::types::CLS_LSN,
                plsnlastflushed: *mut $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsFlushBuffers(
                pvmarshalcontext: *const ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsWriteRestartArea(
                pvmarshalcontext: *mut ::core::ffi::c_void,
                pvrestartbuffer: *const ::core::ffi::c_void,
                cbrestartbuffer: u32,
                plsnbase: *const $crate::types::CLS_LSN,
                fflags: u32,
                pcbwritten: *mut u32,
                plsnnext: *mut $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsReadLogRecord(
                pvmarshalcontext: *const ::core::ffi::c_void,
                plsnfirst: *mut $crate::types::CLS_LSN,
                pecontextmode: $crate::types::CLFS_CONTEXT_MODE,
                ppvreadbuffer: *mut *mut ::core::ffi::c_void,
                pcbreadbuffer: *mut u32,
                perecordtype: *mut u8,
                plsnundonext: *mut $crate::types::CLS_LSN,
                plsnprevious: *mut $crate::types::CLS_LSN,
                ppvreadcontext: *mut *mut ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsReadNextLogRecord(
                pvreadcontext: *mut ::core::ffi::c_void,
                ppvbuffer: *mut *mut ::core::ffi::c_void,
                pcbbuffer: *mut u32,
                perecordtype: *mut u8,
                plsnuser: *const $crate::types::CLS_LSN,
                plsnundonext: *mut $crate::types::CLS_LSN,
                plsnprevious: *mut $crate::types::CLS_LSN,
                plsnrecord: *mut $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsReadRestartArea(
                pvmarshalcontext: *mut ::core::ffi::c_void,
                ppvrestartbuffer: *mut *mut ::core::ffi::c_void,
                pcbrestartbuffer: *mut u32,
                plsn: *mut $crate::types::CLS_LSN,
                ppvreadcontext: *mut *mut ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsReadPreviousRestartArea(
                pvreadcontext: *const ::core::ffi::c_void,
                ppvrestartbuffer: *mut *mut ::core::ffi::c_void,
                pcbrestartbuffer: *mut u32,
                plsnrestart: *mut $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsTerminateReadLog(
                pvcursorcontext: *const ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsAdvanceLogBase(
                pvmarshalcontext: *mut ::core::ffi::c_void,
                plsnbase: *const $crate::types::CLS_LSN,
                fflags: u32,
            ) -> $crate::types::NTSTATUS;
            ClfsSetArchiveTail(
                plfolog: *const $crate::types::FILE_OBJECT,
                plsnarchivetail: *const $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsSetEndOfLog(
                plfolog: *const $crate::types::FILE_OBJECT,
                plsnend: *const $crate::types::CLS_LSN,
            ) -> $crate::types::NTSTATUS;
            ClfsLsnCreate(cidcontainer: u32, offblock: u32, crecord: u32) -> $crate::types::CLS_LSN;
            ClfsLsnContainer(plsn: *const $crate::types::CLS_LSN) -> u32;
            ClfsLsnBlockOffset(plsn: *const $crate::types::CLS_LSN) -> u32;
            ClfsLsnRecordSequence(plsn: *const $crate::types::CLS_LSN) -> u32;
            ClfsLsnEqual(
                plsn1: *const $crate::types::CLS_LSN,
                plsn2: *const $crate::types::CLS_LSN,
            ) -> bool;
            ClfsLsnLess(
                plsn1: *const $crate::types::CLS_LSN,
                plsn2: *const $crate::types::CLS_LSN,
            ) -> bool;
            ClfsLsnGreater(
                plsn1: *const $crate::types::CLS_LSN,
                plsn2: *const $crate::types::CLS_LSN,
            ) -> bool;
            ClfsLsnNull(plsn: *const $crate::types::CLS_LSN) -> bool;
            ClfsLsnInvalid(plsn: *const $crate::types::CLS_LSN) -> bool;
            ClfsCreateMarshallingAreaEx(
                plfolog: *const $crate::types::FILE_OBJECT,
                epooltype: $crate::types::POOL_TYPE,
                pfnallocbuffer: $crate::types::PALLOCATE_FUNCTION,
                pfnfreebuffer: $crate::types::PFREE_FUNCTION,
                cbmarshallingbuffer: u32,
                cmaxwritebuffers: u32,
                cmaxreadbuffers: u32,
                calignmentsize: u32,
                fflags: u64,
                ppvmarshalcontext: *mut *mut ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsSetLogFileInformation(
                plfolog: *const $crate::types::FILE_OBJECT,
                einformationclass: $crate::types::CLS_LOG_INFORMATION_CLASS,
                pinfobuffer: *const ::core::ffi::c_void,
                cbbuffer: u32,
            ) -> $crate::types::NTSTATUS;
            ClfsGetIoStatistics(
                plfolog: *const $crate::types::FILE_OBJECT,
                pvstatsbuffer: *mut ::core::ffi::c_void,
                cbstatsbuffer: u32,
                estatsclass: i32,
                pcbstatswritten: *mut u32,
            ) -> $crate::types::NTSTATUS;
            ClfsCreateScanContext(
                plfolog: *const $crate::types::FILE_OBJECT,
                cfromcontainer: u32,
                ccontainers: u32,
                escanmode: u8,
                pcxscan: *mut $crate::types::CLFS_SCAN_CONTEXT,
            ) -> $crate::types::NTSTATUS;
            ClfsScanLogContainers(
                pcxscan: *mut $crate::types::CLFS_SCAN_CONTEXT,
                escanmode: u8,
            ) -> $crate::types::NTSTATUS;
            ClfsGetContainerName(
                plfolog: *const $crate::types::FILE_OBJECT,
                cidlogicalcontainer: u32,
                puszcontainername: *mut $crate::types::UNICODE_STRING,
                pcactuallencontainername: *mut u32,
            ) -> $crate::types::NTSTATUS;
            ClfsLsnIncrement(plsn: *const $crate::types::CLS_LSN) -> $crate::types::CLS_LSN;
            ClfsLaterLsn(plsn: *const $crate::types::CLS_LSN) -> $crate::types::CLS_LSN;
            ClfsEarlierLsn(plsn: *const $crate::types::CLS_LSN) -> $crate::types::CLS_LSN;
            ClfsLsnDifference(
                plsnstart: *const $crate::types::CLS_LSN,
                plsnfinish: *const $crate::types::CLS_LSN,
                cbcontainer: u32,
                cbmaxblock: u32,
                pcbdifference: *mut i64,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtRegisterManagedClient(
                logfile: *const $crate::types::FILE_OBJECT,
                registrationdata: *const $crate::types::CLFS_MGMT_CLIENT_REGISTRATION,
                clientcookie: *mut *mut ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtDeregisterManagedClient(
                clientcookie: *const ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtTailAdvanceFailure(
                client: *const ::core::ffi::c_void,
                reason: $crate::types::NTSTATUS,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtHandleLogFileFull(
                client: *const ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtInstallPolicy(
                logfile: *const $crate::types::FILE_OBJECT,
                policy: *const $crate::types::CLFS_MGMT_POLICY,
                policylength: u32,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtQueryPolicy(
                logfile: *const $crate::types::FILE_OBJECT,
                policytype: $crate::types::CLFS_MGMT_POLICY_TYPE,
                policy: *mut $crate::types::CLFS_MGMT_POLICY,
                policylength: *mut u32,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtRemovePolicy(
                logfile: *const $crate::types::FILE_OBJECT,
                policytype: $crate::types::CLFS_MGMT_POLICY_TYPE,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtSetLogFileSize(
                logfile: *const $crate::types::FILE_OBJECT,
                newsizeincontainers: *const u64,
                resultingsizeincontainers: *mut u64,
                completionroutine: $crate::types::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK,
                completionroutinedata: *const ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
            ClfsMgmtSetLogFileSizeAsClient(
                logfile: *const $crate::types::FILE_OBJECT,
                clientcookie: *const *const ::core::ffi::c_void,
                newsizeincontainers: *const u64,
                resultingsizeincontainers: *mut u64,
                completionroutine: $crate::types::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK,
                completionroutinedata: *const ::core::ffi::c_void,
            ) -> $crate::types::NTSTATUS;
        }
    };
}

/// Compile-time proof that every listed routine exists at the crate root with exactly the
/// listed type, and [`CLFS_ROUTINES`], the listed names in order.
macro_rules! check_routines {
    ($( $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty; )*) => {
        const _: () = {
            $( let _: unsafe extern "system" fn($($ty),*) -> $ret = $crate::$name; )*
        };

        /// The names of the `clfs.sys` routines the emulator exports, in the order of
        /// [`clfs_routines!`](crate::clfs_routines).
        pub const CLFS_ROUTINES: &[&str] = &[$(stringify!($name)),*];
    };
}
crate::clfs_routines!(check_routines);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every `pub unsafe extern "system" fn Clfs*` in the crate's sources.
    fn defined(dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                defined(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for line in text.lines() {
                    let t = line.trim_start();
                    if let Some(rest) = t.strip_prefix("pub unsafe extern \"system\" fn ") {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if name.starts_with("Clfs") {
                            out.insert(name);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_exported_clfs_routine_is_listed() {
        let mut found = BTreeSet::new();
        defined(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        let listed: BTreeSet<String> = super::CLFS_ROUTINES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert!(found.len() >= 35, "source scan found too little: {found:?}");
        let missing: Vec<_> = found.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "exported but not in clfs_routines! (so no harness thunk): {missing:?}"
        );
    }
}
