//! Compile-time proof that every export has exactly the windows-sys type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
use windows_sys::Wdk::System::SystemServices as ws;

const _: () = {
    let _ = [ws::ClfsCreateLogFile, clfs_emu::ClfsCreateLogFile];
    let _ = [ws::ClfsCloseLogFileObject, clfs_emu::ClfsCloseLogFileObject];
    let _ = [ws::ClfsDeleteLogFile, clfs_emu::ClfsDeleteLogFile];
    let _ = [ws::ClfsDeleteLogByPointer, clfs_emu::ClfsDeleteLogByPointer];
    let _ = [ws::ClfsAddLogContainer, clfs_emu::ClfsAddLogContainer];
    let _ = [ws::ClfsAddLogContainerSet, clfs_emu::ClfsAddLogContainerSet];
    let _ = [ws::ClfsRemoveLogContainer, clfs_emu::ClfsRemoveLogContainer];
    let _ = [
        ws::ClfsRemoveLogContainerSet,
        clfs_emu::ClfsRemoveLogContainerSet,
    ];
    let _ = [
        ws::ClfsQueryLogFileInformation,
        clfs_emu::ClfsQueryLogFileInformation,
    ];
    let _ = [
        ws::ClfsDeleteMarshallingArea,
        clfs_emu::ClfsDeleteMarshallingArea,
    ];
    let _ = [ws::KeGetCurrentIrql, clfs_emu::KeGetCurrentIrql];
    let _ = [ws::ExAllocatePool2, clfs_emu::ExAllocatePool2];
    let _ = [ws::ExFreePoolWithTag, clfs_emu::ExFreePoolWithTag];
    let _ = [ws::ClfsLsnCreate, clfs_emu::ClfsLsnCreate];
    let _ = [ws::ClfsLsnContainer, clfs_emu::ClfsLsnContainer];
    let _ = [ws::ClfsLsnBlockOffset, clfs_emu::ClfsLsnBlockOffset];
    let _ = [ws::ClfsLsnRecordSequence, clfs_emu::ClfsLsnRecordSequence];
    let _ = [ws::ClfsLsnEqual, clfs_emu::ClfsLsnEqual];
    let _ = [ws::ClfsLsnLess, clfs_emu::ClfsLsnLess];
    let _ = [ws::ClfsLsnGreater, clfs_emu::ClfsLsnGreater];
    let _ = [ws::ClfsLsnNull, clfs_emu::ClfsLsnNull];
    let _ = [ws::ClfsLsnInvalid, clfs_emu::ClfsLsnInvalid];
    let _ = [
        ws::ClfsReserveAndAppendLog,
        clfs_emu::ClfsReserveAndAppendLog,
    ];
    let _ = [
        ws::ClfsReserveAndAppendLogAligned,
        clfs_emu::ClfsReserveAndAppendLogAligned,
    ];
    let _ = [ws::ClfsAlignReservedLog, clfs_emu::ClfsAlignReservedLog];
    let _ = [ws::ClfsAllocReservedLog, clfs_emu::ClfsAllocReservedLog];
    let _ = [ws::ClfsFreeReservedLog, clfs_emu::ClfsFreeReservedLog];
    let _ = [ws::ClfsFlushToLsn, clfs_emu::ClfsFlushToLsn];
    let _ = [ws::ClfsFlushBuffers, clfs_emu::ClfsFlushBuffers];
    let _ = [ws::ClfsWriteRestartArea, clfs_emu::ClfsWriteRestartArea];
    let _ = [ws::ClfsReadLogRecord, clfs_emu::ClfsReadLogRecord];
    let _ = [ws::ClfsReadNextLogRecord, clfs_emu::ClfsReadNextLogRecord];
    let _ = [ws::ClfsReadRestartArea, clfs_emu::ClfsReadRestartArea];
    let _ = [
        ws::ClfsReadPreviousRestartArea,
        clfs_emu::ClfsReadPreviousRestartArea,
    ];
    let _ = [ws::ClfsTerminateReadLog, clfs_emu::ClfsTerminateReadLog];
    let _ = [ws::ClfsAdvanceLogBase, clfs_emu::ClfsAdvanceLogBase];
    let _ = [ws::ClfsSetArchiveTail, clfs_emu::ClfsSetArchiveTail];
    let _ = [ws::ClfsSetEndOfLog, clfs_emu::ClfsSetEndOfLog];
};

/// `ClfsCreateMarshallingArea` uses the corrected callback types.
#[allow(clippy::type_complexity)]
const _: unsafe extern "system" fn(
    *const windows_sys::Wdk::Foundation::FILE_OBJECT,
    windows_sys::Wdk::Foundation::POOL_TYPE,
    clfs_emu::types::PALLOCATE_FUNCTION,
    clfs_emu::types::PFREE_FUNCTION,
    u32,
    u32,
    u32,
    *mut *mut core::ffi::c_void,
) -> windows_sys::Win32::Foundation::NTSTATUS = clfs_emu::ClfsCreateMarshallingArea;

#[test]
fn signatures_compile() {}
