//! The IOCTL logic (`src/service.rs`) on the host, against the `clfs-emu` emulator: the same
//! code the driver image runs, without the IRP plumbing (which `clfs-hlk` tests through the
//! real image).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/logic.rs"]
#[allow(dead_code)]
mod logic;
#[path = "../src/service.rs"]
#[allow(dead_code)]
mod service;

use clfs_emu::Sandbox;
use clfs_sample_proto as proto;
use logic::{start, LogSlot, CONTAINERS, CONTAINER_SIZE, LOG_NAME};
use service::{device_control, Handle, Reply};

fn append(area: &'static service::Area, h: &Handle, data: &[u8]) -> u64 {
    let mut buf = vec![0u8; 8 + data.len()];
    let n = proto::AppendRequest { flags: 0 }
        .encode(data, &mut buf)
        .unwrap();
    let r = device_control(area, h, proto::IOCTL_CLFS_SAMPLE_APPEND, &mut buf, n, 16);
    assert_eq!(
        r,
        Reply {
            status: 0,
            information: 16
        }
    );
    proto::AppendReply::decode(&buf).unwrap().lsn
}

fn read(area: &'static service::Area, h: &Handle, start: u64, out: usize) -> (Reply, Vec<u8>) {
    let mut buf = vec![0u8; out.max(16)];
    proto::ReadRequest {
        start,
        mode: proto::ReadMode::Forward,
    }
    .encode(&mut buf)
    .unwrap();
    let r = device_control(area, h, proto::IOCTL_CLFS_SAMPLE_READ, &mut buf, 16, out);
    (r, buf)
}

#[test]
fn reads_hold_a_record_that_does_not_fit_and_cleanup_ends_the_read() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();
    let running = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE).unwrap();
    // Leaked: the area must be 'static, as in the driver's static session.
    let running: &'static logic::Running = Box::leak(Box::new(running));
    let area = running.area();
    let h = Handle::new();
    let lsns: Vec<u64> = (0..3).map(|i| append(area, &h, &[b'a' + i; 40])).collect();

    // Room for the header and one 40-byte record (16 + 40 = 56): one record per reply, the
    // next one held in the read context.
    let (r, buf) = read(area, &h, lsns[0], 24 + 56);
    assert_eq!(
        r,
        Reply {
            status: 0,
            information: 80
        }
    );
    let head = proto::ReadReply::decode(&buf).unwrap();
    assert_eq!((head.count, head.next, head.flags), (1, lsns[1], 0));
    assert!(h.reading());
    assert_eq!(sandbox.stats().live_read_contexts, 1);

    // Too small for the held record: BUFFER_OVERFLOW with the size it needs.
    let (r, buf) = read(area, &h, proto::LSN_NONE, 40);
    assert_eq!(r.status, service::STATUS_BUFFER_OVERFLOW);
    assert_eq!(r.information, 24);
    assert_eq!(proto::ReadReply::decode(&buf).unwrap().needed, 80);

    // Continue: the held record comes first.
    let (r, buf) = read(area, &h, proto::LSN_NONE, 4096);
    assert_eq!(r.status, 0);
    let head = proto::ReadReply::decode(&buf).unwrap();
    let recs: Vec<_> = proto::Records::new(&buf[24..r.information], head.count)
        .map(Result::unwrap)
        .collect();
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), lsns[1..]);
    assert_eq!(head.flags, proto::READ_END);
    assert_eq!(
        sandbox.stats().live_read_contexts,
        0,
        "the read ended at its end"
    );

    // A read in progress ends at cleanup; the handle refuses requests afterwards.
    read(area, &h, lsns[0], 80);
    assert_eq!(sandbox.stats().live_read_contexts, 1);
    h.cleanup();
    assert_eq!(sandbox.stats().live_read_contexts, 0);
    let (r, _) = read(area, &h, lsns[0], 80);
    assert_eq!(r.status, service::STATUS_FILE_CLOSED);

    // Bad requests: nothing is called.
    let calls = sandbox.stats().clfs_calls();
    let g = Handle::new();
    let mut small = [0u8; 8];
    let r = device_control(area, &g, proto::IOCTL_CLFS_SAMPLE_APPEND, &mut small, 8, 8);
    assert_eq!(r.status, service::STATUS_BUFFER_TOO_SMALL);
    let r = device_control(area, &g, 0x0022_0000, &mut small, 0, 8);
    assert_eq!(r.status, service::STATUS_INVALID_DEVICE_REQUEST);
    let (r, _) = read(area, &g, proto::LSN_NONE, 80);
    assert_eq!(r.status, service::STATUS_INVALID_DEVICE_STATE);
    assert_eq!(sandbox.stats().clfs_calls(), calls);
    drop(sandbox);
}
