//! The stack-budget probe (feature `stack-probe`): one exported function per public `clfs`
//! routine, each calling exactly that routine with inputs the caller supplies (so nothing is
//! folded away and the count-dependent routines are instantiated for any size up to their
//! limits: 1024 container paths, `MAX_WRITE_ENTRIES` write entries, any number of reservation
//! sizes). LTO inlines each routine into its probe, so the probe's frame is the routine's frame.
//! `samples/build-driver.sh` builds this image and has `clfs-imgcheck` check every frame
//! against the budget (docs/kernel-build.md, "Stack budget"). Never part of the real driver.
//!
//! With `prove-stack-check` it also exports a function with the pre-issue-11 container-set
//! frame (two 1024-entry `UNICODE_STRING` arrays on the stack): the check must fail on it.
#![allow(missing_docs, clippy::missing_safety_doc)]

use clfs::mgmt::{ErrorStatus, PolicyBuf};
use clfs::{
    Append, ClfsAllocator, InstallMode, LogFile, LogFullOutcome, LogOptions, LogSize, Lsn,
    ManagedClient, ManagementCallbacks, MarshallingArea, MarshallingConfig, MarshallingFlags,
    Policy, PolicyKind, ReadContext, ReadMode, Reservation, RestartContext, ScanContext,
    ScanDirection, TaggedPool, TailAdvance,
};

type Area<'l> = MarshallingArea<'l, ClfsAllocator>;
type Pool = TaggedPool<{ clfs::pool_tag(*b"Prb0") }>;

macro_rules! probe {
    ($($name:ident $(<$lt:lifetime>)? ($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block)*) => {$(
        #[unsafe(no_mangle)]
        #[inline(never)]
        pub fn $name $(<$lt>)? ($($arg: $ty),*) -> $ret $body
    )*};
}

probe! {
    clfs_probe_log_create(name: &[u16], options: LogOptions) -> clfs::Result<LogFile> {
        LogFile::create(name, options)
    }
    clfs_probe_log_delete_named(name: &[u16]) -> clfs::Result<()> { LogFile::delete_named(name) }
    clfs_probe_log_close(log: LogFile) -> clfs::Result<()> { log.close() }
    clfs_probe_log_delete(log: LogFile) -> clfs::Result<()> { log.delete() }
    clfs_probe_log_drop(log: LogFile) -> () { drop(log) }
    clfs_probe_log_close_and_reset(log: LogFile) -> clfs::Result<()> { log.close_and_reset() }
    clfs_probe_log_name_parse(name: &[u16]) -> usize {
        clfs::LogName::parse(name).map_or(0, |n| n.stream().map_or(1, <[u16]>::len))
    }
    clfs_probe_add_container(log: &LogFile, path: &[u16], size: u64) -> clfs::Result<u64> {
        log.add_container(path, size)
    }
    clfs_probe_add_container_of_existing_size(log: &LogFile, path: &[u16]) -> clfs::Result<()> {
        log.add_container_of_existing_size(path)
    }
    clfs_probe_add_containers(log: &LogFile, paths: &[&[u16]], size: u64) -> clfs::Result<u64> {
        log.add_containers(paths, size)
    }
    clfs_probe_remove_container(log: &LogFile, path: &[u16], force: bool) -> clfs::Result<()> {
        log.remove_container(path, force)
    }
    clfs_probe_remove_containers(log: &LogFile, paths: &[&[u16]], force: bool) -> clfs::Result<()> {
        log.remove_containers(paths, force)
    }
    clfs_probe_info(log: &LogFile) -> clfs::Result<clfs::LogInfo> { log.info() }
    clfs_probe_area_create(log: &LogFile, config: MarshallingConfig) -> clfs::Result<Area<'_>> {
        MarshallingArea::create(log, config)
    }
    clfs_probe_area_create_pool(
        log: &LogFile,
        config: MarshallingConfig
    ) -> clfs::Result<MarshallingArea<'_, Pool>> {
        MarshallingArea::create(log, config)
    }
    clfs_probe_area_delete(area: Area<'_>) -> clfs::Result<()> { area.delete() }
    clfs_probe_area_drop(area: MarshallingArea<'_, Pool>) -> () { drop(area) }
    clfs_probe_append(area: &Area<'_>, entries: &[&[u8]]) -> clfs::Result<Lsn> {
        area.append(entries)
    }
    clfs_probe_append_with(area: &Area<'_>, entries: &[&[u8]], options: Append) -> clfs::Result<Lsn> {
        area.append_with(entries, options)
    }
    clfs_probe_append_aligned(
        area: &Area<'_>,
        entries: &[&[u8]],
        alignment: u32,
        options: Append
    ) -> clfs::Result<Lsn> {
        area.append_aligned(entries, alignment, options)
    }
    clfs_probe_flush(area: &Area<'_>) -> clfs::Result<Lsn> { area.flush() }
    clfs_probe_flush_to(area: &Area<'_>, lsn: Lsn) -> clfs::Result<Lsn> { area.flush_to(lsn) }
    clfs_probe_advance_base(area: &Area<'_>, lsn: Lsn) -> clfs::Result<()> { area.advance_base(lsn) }
    clfs_probe_set_archive_tail(log: &LogFile, lsn: Lsn) -> clfs::Result<()> {
        log.set_archive_tail(lsn)
    }
    clfs_probe_reserve<'a>(area: &'a Area<'a>, sizes: &[u32]) -> clfs::Result<Reservation<'a, 'a, ClfsAllocator>> {
        area.reserve(sizes)
    }
    clfs_probe_reservation_size(area: &Area<'_>, size: u32) -> clfs::Result<i64> {
        area.reservation_size(size)
    }
    clfs_probe_reservation_append(
        r: &mut Reservation<'_, '_, ClfsAllocator>,
        entries: &[&[u8]],
        options: Append
    ) -> clfs::Result<Lsn> {
        r.append(entries, options)
    }
    clfs_probe_reservation_release(r: Reservation<'_, '_, ClfsAllocator>) -> clfs::Result<()> {
        r.release()
    }
    clfs_probe_reservation_drop(r: Reservation<'_, '_, ClfsAllocator>) -> () { drop(r) }
    clfs_probe_read<'a>(area: &'a Area<'a>, lsn: Lsn, mode: ReadMode) -> clfs::Result<ReadContext<'a>> {
        area.read(lsn, mode)
    }
    clfs_probe_read_next(cx: &mut ReadContext<'_>) -> clfs::Result<usize> {
        cx.next().map(|r| r.map_or(0, |r| r.data.len()))
    }
    clfs_probe_read_jump(cx: &mut ReadContext<'_>, lsn: Lsn) -> clfs::Result<usize> {
        cx.jump(lsn).map(|r| r.map_or(0, |r| r.data.len()))
    }
    clfs_probe_read_drop(cx: ReadContext<'_>) -> () { drop(cx) }
    clfs_probe_read_restart<'a>(area: &'a Area<'a>) -> clfs::Result<Option<RestartContext<'a>>> {
        area.read_restart()
    }
    clfs_probe_restart_previous(cx: &mut RestartContext<'_>) -> clfs::Result<usize> {
        cx.previous().map(|a| a.map_or(0, |a| a.data.len()))
    }
    clfs_probe_write_restart(area: &Area<'_>, data: &[u8]) -> clfs::Result<Lsn> {
        area.write_restart(data)
    }
    clfs_probe_write_restart_with_base(area: &Area<'_>, data: &[u8], base: Lsn) -> clfs::Result<Lsn> {
        area.write_restart_with_base(data, base)
    }
    clfs_probe_log_delete_named_with(name: &[u16], options: &LogOptions<'_>) -> clfs::Result<()> {
        LogFile::delete_named_with(name, options)
    }
    clfs_probe_area_create_ex(
        log: &LogFile,
        config: MarshallingConfig,
        alignment: u32,
        flags: MarshallingFlags,
    ) -> clfs::Result<Area<'_>> {
        MarshallingArea::create_ex(log, config, alignment, flags)
    }
    clfs_probe_containers(log: &LogFile, cx: &mut ScanContext) -> clfs::Result<u32> {
        log.containers(cx).map(|scan| scan.filter_map(Result::ok).map(|c| c.size() as u32).sum())
    }
    clfs_probe_scan_containers(
        log: &LogFile,
        cx: &mut ScanContext,
        from: u32,
        direction: ScanDirection,
    ) -> clfs::Result<u32> {
        log.scan_containers(cx, from, direction)
            .map(|scan| scan.filter_map(Result::ok).map(|c| c.physical_id()).sum())
    }
    clfs_probe_container_name(log: &LogFile, id: u32, buf: &mut [u16]) -> clfs::Result<usize> {
        log.container_name(id, buf).map(|n| n.is_truncated() as usize)
    }
    clfs_probe_install_policy(log: &LogFile, policy: &Policy<'_>, mode: InstallMode) -> clfs::Result<()> {
        log.install_policy(policy, mode)
    }
    clfs_probe_query_policy(log: &LogFile, kind: PolicyKind, buf: &mut PolicyBuf) -> clfs::Result<bool> {
        log.query_policy(kind, buf).map(|p| p.is_some())
    }
    clfs_probe_remove_policy(log: &LogFile, kind: PolicyKind) -> clfs::Result<()> {
        log.remove_policy(kind)
    }
    clfs_probe_set_log_file_size(log: &LogFile, size: LogSize) -> clfs::Result<u64> {
        log.set_log_file_size(size).map(|r| core::hint::black_box(r).containers)
    }
    clfs_probe_client_register<'a>(log: &'a LogFile, callbacks: &'a Callbacks) -> clfs::Result<ManagedClient<'a, Callbacks>> {
        ManagedClient::register(log, callbacks)
    }
    clfs_probe_client_deregister(client: ManagedClient<'_, Callbacks>) -> clfs::Result<()> {
        client.deregister().map_err(clfs::Error::from)
    }
    clfs_probe_client_handle_log_full(client: &ManagedClient<'_, Callbacks>) -> clfs::Result<bool> {
        client.handle_log_full().map(|o| matches!(o, LogFullOutcome::GrowthPending))
    }
    clfs_probe_client_tail_advance_failure(client: &ManagedClient<'_, Callbacks>, reason: ErrorStatus) -> clfs::Result<()> {
        client.tail_advance_failure(reason)
    }
    clfs_probe_client_set_log_file_size(client: &ManagedClient<'_, Callbacks>, size: LogSize) -> clfs::Result<u64> {
        client.set_log_file_size(size).map(|r| core::hint::black_box(r).containers)
    }
}

/// Management callbacks that do nothing (the probe only needs the routines instantiated).
pub struct Callbacks;

impl ManagementCallbacks for Callbacks {
    fn advance_tail(&self, _target: Lsn) -> TailAdvance {
        TailAdvance::Pending
    }
}

/// The frame issue 11 found: `add_containers::<1024>` built two 1024-entry `UNICODE_STRING`
/// arrays (16 KiB each) on the stack. `samples/build-driver.sh` builds this with
/// `prove-stack-check` and `clfs-imgcheck` must reject the image.
#[cfg(feature = "prove-stack-check")]
#[unsafe(no_mangle)]
#[inline(never)]
pub fn clfs_probe_old_container_set(paths: &[&[u16]]) -> usize {
    let mut first = [core::ptr::null::<u16>(); 2048];
    let mut second = [0usize; 2048];
    for (i, p) in paths.iter().enumerate().take(2048) {
        first[i] = p.as_ptr();
        second[i] = p.len();
    }
    let first = core::hint::black_box(&mut first);
    let second = core::hint::black_box(&mut second);
    first
        .iter()
        .zip(second.iter())
        .filter(|(p, n)| !p.is_null() && **n > 0)
        .count()
}

// A frame of a page or more calls `__chkstk` to probe the guard page. This image links no
// runtime library (/NODEFAULTLIB), so without this import such a frame does not even link,
// which is a second guard; ntoskrnl.exe exports `__chkstk` (as WDK-built drivers use it), so
// the negative image links and the budget check is what must reject it.
#[cfg(feature = "prove-stack-check")]
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    #[allow(dead_code)]
    fn __chkstk();
}
