//! Multiplexed logs built with clfs-format's own encoders: the layout is told apart, records are
//! attributed to their streams, owner pages are recognised, and `Log::verify` names each broken
//! stream rule with its values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use clfs_format::{
    encode_block, BaseFile, BaseRecord, BlockBuilder, BlockHeader, ClientContext, ContainerContext,
    ControlRecord, Layout, Log, LogId, Lsn, Rule, TruncateRecord, LOG_STATE_MULTIPLEXED,
    RECORD_TYPE_DATA, RECORD_TYPE_RESTART, SECTOR_BLOCK_OWNER, SECTOR_SIZE,
};

const SIZE: u64 = 0x2000;
const C0: &str = "%BLF%\\muxContainer0";

/// A block of stream `client` at `off` of container 0 holding `records` (type, previous).
fn block(c: &mut [u8], off: u32, client: u8, records: &[(u32, Lsn)]) {
    let mut b = BlockBuilder::new(Lsn::new(0, off, 0), 1).client_id(client);
    for (i, (t, prev)) in records.iter().enumerate() {
        b.push(*t, Lsn::INVALID, *prev, &[client, i as u8, 0xee])
            .unwrap();
    }
    let blk = b.finish(Lsn::INVALID).unwrap();
    c[off as usize..off as usize + blk.len()].fill(0);
    c[off as usize..off as usize + blk.len()].copy_from_slice(&blk);
}

/// The LSNs of the sample log.
const A2: Lsn = Lsn::new(0, 0, 0); // stream 2, behind its base
const A1: Lsn = Lsn::new(0, 0x200, 0);
const R1: Lsn = Lsn::new(0, 0x200, 1);
const B2: Lsn = Lsn::new(0, 0x400, 0);
const R2: Lsn = Lsn::new(0, 0x400, 1);
const B1: Lsn = Lsn::new(0, 0x600, 0);
const R1B: Lsn = Lsn::new(0, 0x600, 1);
const CURSOR: Lsn = Lsn::new(0, 0x800, 0);

/// Container 0 of the emulator's layout: blocks of streams 2, 1, 2, 1.
fn container() -> Vec<u8> {
    let mut c = vec![0u8; SIZE as usize];
    block(&mut c, 0, 2, &[(RECORD_TYPE_DATA, Lsn::INVALID)]);
    block(
        &mut c,
        0x200,
        1,
        &[
            (RECORD_TYPE_DATA, Lsn::INVALID),
            (RECORD_TYPE_RESTART, Lsn::INVALID),
        ],
    );
    block(
        &mut c,
        0x400,
        2,
        &[
            (RECORD_TYPE_DATA, Lsn::INVALID),
            (RECORD_TYPE_RESTART, Lsn::INVALID),
        ],
    );
    block(
        &mut c,
        0x600,
        1,
        &[(RECORD_TYPE_DATA, A1), (RECORD_TYPE_RESTART, R1)],
    );
    c
}

/// The base record the emulator writes for that container: client 0 the physical log,
/// streams 1 ("orders") and 2 ("audit").
fn base() -> BaseRecord {
    let mut b = BaseRecord::new(LogId([0x5a; 16]));
    b.log_state |= LOG_STATE_MULTIPLEXED;
    let mut phys = ClientContext::new(0);
    phys.base = A1; // the smaller of the streams' tails
    phys.archive_tail = A1;
    phys.last = CURSOR;
    phys.restart = Lsn::INVALID;
    phys.unused1 = R1B;
    b.add_client(phys, "\\??\\C:\\logs\\mux.blf");
    for (id, name, base, last) in [(1u8, "orders", A1, R1B), (2, "audit", B2, R2)] {
        let mut c = ClientContext::new(id);
        c.base = base;
        c.archive_tail = base;
        c.last = last;
        c.restart = last;
        c.unused1 = last;
        c.physical_base = base;
        b.add_client(c, name);
    }
    b.add_container(ContainerContext::new(0, 0, SIZE), C0);
    b
}

fn log_of(base: &BaseRecord, c: &[u8]) -> Log {
    let image = BaseFile::encode_image(&ControlRecord::new(1), base, &TruncateRecord::default(), 1)
        .unwrap();
    let bf = BaseFile::decode(&image, "mux.blf").unwrap();
    Log::read(bf, |_| Some((c, C0.to_string())))
}

fn lsns<'a>(it: impl Iterator<Item = &'a clfs_format::LogRecord>) -> Vec<Lsn> {
    it.map(|r| r.header.lsn).collect()
}

#[test]
fn the_emulator_layout_reads_per_stream_and_verifies() {
    let c = container();
    let log = log_of(&base(), &c);
    assert_eq!(log.layout(), Layout::Multiplexed);
    assert!(log.layout().is_physical(0) && !log.layout().is_physical(1));
    let b = &log.base.base;
    assert_eq!(b.client(1).unwrap().name, "orders");
    assert_eq!(b.client(2).unwrap().context.restart, R2);
    // Every record carries its block's ClientId.
    assert_eq!(lsns(log.stream_records(1)), [A1, R1, B1, R1B]);
    assert_eq!(lsns(log.stream_records(2)), [A2, B2, R2]);
    assert_eq!(log.stream_records(0).count(), 0);
    // Active ranges: [base, last] of each stream (last is its last flushed record); the
    // physical log has none.
    assert_eq!(
        lsns(log.active_records(b.client(1).unwrap())),
        [A1, R1, B1, R1B]
    );
    assert_eq!(lsns(log.active_records(b.client(2).unwrap())), [B2, R2]);
    assert_eq!(log.active_records(b.client(0).unwrap()).count(), 0);
    assert!(!log.is_active(log.record(A2).unwrap()));
    assert_eq!(
        log.restart_chain(b.client(1).unwrap(), "mux.blf").unwrap(),
        [R1B, R1]
    );
    log.verify("mux.blf").unwrap();
}

#[test]
fn a_block_of_no_stream_is_named() {
    let mut c = container();
    block(&mut c, 0x400, 5, &[(RECORD_TYPE_DATA, Lsn::INVALID)]);
    let e = log_of(&base(), &c).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "%BLF%\\muxContainer0: block at 0x400: CLFS_LOG_BLOCK_HEADER.ClientId is 5, which names no stream (the base record has no client context with that id)"
    );
    assert_eq!(e.rule, Rule::UnknownStream { client_id: 5 });
}

#[test]
fn a_block_of_the_physical_log_is_refused_in_a_multiplexed_log() {
    let mut c = container();
    block(&mut c, 0, 0, &[(RECORD_TYPE_DATA, Lsn::INVALID)]);
    let e = log_of(&base(), &c).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "%BLF%\\muxContainer0: block at 0x0: CLFS_LOG_BLOCK_HEADER.ClientId is 0, the physical log's id: in a multiplexed log every block belongs to a stream (1..=123)"
    );
}

#[test]
fn a_stream_whose_last_record_lies_below_its_base_is_named() {
    let mut b = base();
    b.clients[1].context.base = CURSOR;
    b.clients[1].context.archive_tail = CURSOR;
    let e = log_of(&b, &container()).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "mux.blf: block at 0x800: CLFS_CLIENT_CONTEXT.lsnBase of stream 1 is 0:0x800:0, after the stream's last record 0:0x600:1"
    );
}

#[test]
fn a_restart_lsn_naming_another_streams_record_is_named() {
    let mut b = base();
    b.clients[1].context.restart = R2;
    let e = log_of(&b, &container()).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "mux.blf: block at 0x800: CLFS_CLIENT_CONTEXT.lsnRestart of stream 1 names 0:0x400:1, a record of stream 2"
    );
    assert_eq!(
        e.rule,
        Rule::ForeignRecord {
            stream: 1,
            lsn: R2,
            owner: 2
        }
    );
    // The same for a stream's last record.
    let mut b = base();
    b.clients[2].context.last = R1B;
    b.clients[2].context.restart = Lsn::INVALID;
    let e = log_of(&b, &container()).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.rule,
        Rule::ForeignRecord {
            stream: 2,
            lsn: R1B,
            owner: 1
        }
    );
    assert_eq!(e.field, "CLFS_CLIENT_CONTEXT.lsnLast");
}

#[test]
fn links_stay_inside_their_stream() {
    let mut c = container();
    // Stream 1's restart record links stream 2's restart record.
    block(
        &mut c,
        0x600,
        1,
        &[(RECORD_TYPE_DATA, A1), (RECORD_TYPE_RESTART, R2)],
    );
    let e = log_of(&base(), &c).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "%BLF%\\muxContainer0: block at 0x600: CLFS_LOG_RECORD_HEADER.LsnPrevious of stream 1 names 0:0x400:1, a record of stream 2"
    );
}

#[test]
fn the_physical_base_may_not_pass_a_streams_tail() {
    let mut b = base();
    b.clients[0].context.base = B2;
    let e = log_of(&b, &container()).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "mux.blf: block at 0x800: CLFS_CLIENT_CONTEXT.lsnBase of the physical log (client 0) is 0:0x400:0, after stream 1's tail 0:0x200:0"
    );
    // An idle stream (no record at or above its tail) pins nothing: the physical base may
    // pass it (the emulator moves its base up when it writes again).
    let mut b = base();
    b.clients[0].context.base = B2;
    b.clients[1].context.last = Lsn::INVALID;
    b.clients[1].context.restart = Lsn::INVALID;
    log_of(&b, &container()).verify("mux.blf").unwrap();
}

#[test]
fn a_multiplexed_log_without_owner_pages_needs_its_physical_client() {
    let mut b = base();
    b.clients.remove(0);
    b.client_count = 2;
    let e = log_of(&b, &container()).verify("mux.blf").unwrap_err();
    assert_eq!(e.field, "CLFS_BASE_RECORD_HEADER.rgClients");
    assert!(e.to_string().contains("has no client 0"), "{e}");
}

#[test]
fn a_repeated_lsn_in_a_stream_is_named() {
    let c = container();
    let mut log = log_of(&base(), &c);
    let twice = log.record(B1).unwrap().clone();
    let at = log.records.iter().position(|r| r.header.lsn == B1).unwrap();
    log.records.insert(at, twice);
    assert_eq!(
        log.verify("mux.blf").unwrap_err().rule,
        Rule::RepeatedLsn { stream: 1, lsn: B1 }
    );
}

/// `sectors` sectors of owner page at `off`: a block header with owner-page signatures.
fn owner_page(c: &mut [u8], off: usize, sectors: u16) {
    let n = sectors as usize * SECTOR_SIZE;
    let page = &mut c[off..off + n];
    page.fill(0);
    let h = BlockHeader::new(sectors, 3);
    encode_block(
        page,
        &h,
        SECTOR_BLOCK_OWNER,
        false,
        &clfs_format::Loc::new("t", 0),
    )
    .unwrap();
}

#[test]
fn owner_pages_are_recognised_and_skipped() {
    let mut c = container();
    owner_page(&mut c, 0x1000, 2);
    // An owner-page sector whose first bytes are no block header: recognised by its
    // signature alone, and joined to the span before it.
    c[0x1400..0x1600].fill(0x33);
    c[0x1400 + 510] = SECTOR_BLOCK_OWNER | 0x60;
    let log = log_of(&base(), &c);
    let scan = log.containers[0].as_ref().unwrap();
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert_eq!(scan.owner_pages, [(0x1000, 0x600)]);
    assert_eq!(log.records.len(), 7);
    // The base record names no owner page: verify says where the unexpected one lies.
    let e = log.verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "%BLF%\\muxContainer0: block at 0x1000: sector signature has type 0x08 (owner page), but no client context names an owner page (every lsnOwnerPage is INVALID)"
    );
    // A client that names an owner page makes the log owner-paged: the pages are expected.
    let mut b = base();
    b.clients[1].context.owner_page = Lsn::new(0, 0x1000, 0);
    let log = log_of(&b, &c);
    assert_eq!(log.layout(), Layout::MultiplexedOwnerPaged);
    log.verify("mux.blf").unwrap();
}

#[test]
fn a_dedicated_log_keeps_every_block_in_client_0() {
    let mut b = base();
    b.log_state &= !LOG_STATE_MULTIPLEXED;
    assert_eq!(b.layout(), Layout::Dedicated);
    let e = log_of(&b, &container()).verify("mux.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "%BLF%\\muxContainer0: block at 0x0: CLFS_LOG_BLOCK_HEADER.ClientId is 0x2, must be 0x0"
    );
}

#[test]
fn a_dedicated_base_at_the_logs_end_names_no_record() {
    // A dedicated log reset to its end (ClfsCloseAndResetLogFile): base = last = the next block.
    let mut c = vec![0u8; SIZE as usize];
    block(&mut c, 0, 0, &[(RECORD_TYPE_RESTART, Lsn::INVALID)]);
    let mut b = BaseRecord::new(LogId([1; 16]));
    let mut cc = ClientContext::new(0);
    cc.base = Lsn::new(0, 0x200, 0);
    cc.last = cc.base;
    cc.restart = Lsn::INVALID;
    b.add_client(cc, "\\??\\C:\\logs\\d.blf");
    b.add_container(ContainerContext::new(0, 0, SIZE), C0);
    let log = log_of(&b, &c);
    assert_eq!(log.layout(), Layout::Dedicated);
    log.verify("d.blf").unwrap();
    assert!(!log.is_active(log.record(Lsn::NULL).unwrap()));
    // Below the end, the base must name a record.
    b.clients[0].context.last = Lsn::new(0, 0x400, 0);
    let e = log_of(&b, &c).verify("d.blf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "d.blf: block at 0x800: CLFS_CLIENT_CONTEXT.lsnBase of stream 0 names 0:0x200:0, which is not in the log"
    );
}
