# Writes the hand-made seeds of the `emu_open` fuzz target into the directory given. The
# format is the target's `Reader`: template, appends, size (u16), then mutations (an op byte,
# little-endian fields, byte strings as a length byte and the bytes).
# Usage: python3 fuzz/seedgen/emu_open.py fuzz/corpus/emu_open
import struct, sys, os
def u8(v): return bytes([v & 0xff])
def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def u64(v): return struct.pack("<Q", v & 0xffffffffffffffff)
def vec(b): return u8(len(b)) + b
def head(template, appends=1, size=300): return u8(template) + u8(appends) + u16(size)
# LSN choices
def known(i): return u8(0) + u16(i)
def near(i, d): return u8(1) + u16(i) + u16(d)
INVALID = u8(2)
NULL = u8(3)
def raw(v): return u8(4) + u64(v)
# mutations
BASE, LAST, RESTART, ARCHIVE, FLUSHED, OWNER = range(6)
def client(c, field, lsn): return u8(0) + u8(c) + u8(field) + lsn
def client_id(c, i): return u8(1) + u8(c) + u8(i)
def client_name(c, n): return u8(2) + u8(c) + vec(n)
def attributes(c, v): return u8(3) + u8(c) + u16(v)
def container(c, kind, v): return u8(4) + u8(c) + u8(kind) + (vec(v) if kind == 5 else (u64(v) if kind == 0 else u32(v)))
def log_state(s): return u8(5) + u8(s)
def drop_container(c): return u8(6) + u8(c)
def drop_client(c): return u8(7) + u8(c)
def base_bytes(at, b): return u8(8) + u16(at) + vec(b)
def raw_bytes(f, at, b): return u8(9) + u8(f) + u32(at) + vec(b)
def block(b, at, data): return u8(10) + u16(b) + u16(at) + vec(data)
UNDO, PREV = 1, 2
def link(b, rec, field, lsn): return u8(11) + u16(b) + u8(rec) + u8(field) + lsn
def record_field(b, rec, at, v): return u8(12) + u16(b) + u8(rec) + u8(at) + u32(v)
def truncate(f, n): return u8(13) + u8(f) + u32(n)
def grow(f, n): return u8(14) + u8(f) + u32(n)
def remove(f): return u8(15) + u8(f)
# An entry of the control record's table: offset and size in sectors, the block type.
def control(b, off, size, kind): return u8(17) + u8(b) + u32(off) + u32(size) + u32(kind)

seeds = {
    # The six logs as the emulator wrote them (0 dedicated archivable over two containers,
    # 1 multiplexed with two streams, 2 dedicated after a crash, 3 dedicated after a reset,
    # 4 multiplexed after a crash, 5 log 2 with its base file in the shape Windows leaves,
    # 6 a dedicated log whose many long-named containers extended its base file).
    **{f"plain-{t}": head(t, 2, 300 + 1000 * t) for t in range(7)},
    # The extended base file: a container context's size, a name, raw bytes past 0x7a00.
    # The control record's table: the scratch shadow moved past the end, a general block
    # made smaller than its record.
    "control-table": head(0) + control(5, 0x100, 1, 5) + control(2, 4, 2, 2),
    "extended-edits": head(6) + container(40, 0, 1 << 20) + container(7, 5, b"%BLF%\\short")
        + base_bytes(0x7c00, b"\xff" * 16),
    # Windows shape: the cursor at the start of the second container (the walk goes back
    # into the first), and a truncated block header before the cursor.
    "windows-cursor-at-container-start": head(5) + client(0, LAST, raw(0x0000_0001_0000_0000)),
    "windows-torn-before-cursor": head(5) + block(2, 4, b"\x00\x00"),
    # Links: a previous link forward, an undo-next link to the record itself, a restart
    # record's previous link to a later record.
    "links-forward-and-self": head(0) + link(5, 0, PREV, known(30)) + link(6, 0, UNDO, known(6))
        + link(9, 1, PREV, near(40, 1)),
    "links-mux": head(1) + link(3, 0, PREV, known(20)) + link(7, 1, UNDO, NULL),
    # The base file's cursor and hints: lsnLast in the middle of a block, the flushed hint
    # elsewhere, the base past the end, the restart LSN on a data record.
    "cursor-and-hints": head(2) + client(0, LAST, near(3, 0x200)) + client(0, FLUSHED, known(1))
        + client(0, BASE, raw(0x0000_0001_0007_fe00)) + client(0, RESTART, known(2)),
    # Sizes from disk: a huge container size, a huge record size.
    "container-size": head(0) + container(0, 0, 1 << 40) + container(1, 0, 1 << 40),
    "record-size": head(3) + record_field(1, 0, 0x18, 0x00FF_FFFF),
    # Files: a container cut short, one removed.
    "truncated-container": head(1, 3, 5000) + truncate(1, 4096),
    "removed-container": head(2) + remove(2),
    # Streams: a client id out of range, a stream base past the end, ids swapped.
    "mux-stream-ids": head(4) + client_id(1, 200) + client(2, BASE, raw(0x0000_0005_0000_0000)),
    # Container states: the never-used container marked in use.
    "container-state": head(0) + container(1, 4, 4) + container(0, 4, 2),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
