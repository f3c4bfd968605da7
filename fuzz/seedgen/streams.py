# Writes the hand-made seeds of the `streams` fuzz target into the directory given (raw bytes
# as `arbitrary` 1.x reads them: take-rest vectors, one continue byte per element; enum
# variants from a little-endian u32). Usage: python3 fuzz/seedgen/streams.py fuzz/corpus/streams
import struct, sys, os
OPS = ["Append","Flush","ReadFrom","ReadAll","ReadForeign","ReadStale","AdvanceBase","WriteRestart",
       "ReadRestart","SetArchiveTail","Info","Reset","Delete","Create","OpenDedicated",
       "PhysicalLogWrites","AddContainer","Reopen","Crash"]
NAMES = ["Pool","Bad","Raw"]
def variant(k, n):
    x = ((2*k+1) << 32) // (2*n)
    return struct.pack("<I", x)
def u8(v): return bytes([v & 0xff])
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def op(name, *fields):
    return b"\x01" + variant(OPS.index(name), len(OPS)) + b"".join(fields)
def setup(streams, containers, size, archive, sectors, maxw):
    return u8(streams) + u8(containers) + u32(size) + u8(1 if archive else 0) + u8(sectors) + u8(maxw)
def pool(pick, upper): return variant(0, 3) + u8(pick) + u8(1 if upper else 0)
def bad(rule, at): return variant(1, 3) + u8(rule) + u8(at)
def append(s, ln, seed, flush=False): return op("Append", u8(s), u16(ln), u8(seed), u8(1 if flush else 0))
def restart(s, ln, seed, base=None):
    b = u8(0) if base is None else u8(1) + u8(base)
    return op("WriteRestart", u8(s), u16(ln), u8(seed), b)
seeds = {
 "crash-prefix": setup(0, 0, 1, False, 7, 2) + b"".join([
    append(0, 100, 1), append(1, 200, 2), append(0, 50, 3), op("Flush", u8(1)),
    append(1, 300, 4), append(0, 70, 5, True), append(1, 10, 6), op("ReadAll", u8(0)),
    op("ReadFrom", u8(1), u8(1)), op("Crash"), append(0, 40, 7), append(1, 40, 8),
    op("ReadAll", u8(1)), op("Info", u8(0))]),
 "archive-base-restart": setup(1, 1, 1 << 20, True, 15, 3) + b"".join([
    append(0, 100, 1), append(0, 200, 2), append(0, 300, 3), append(1, 400, 4), append(2, 500, 5),
    append(1, 60, 6), op("SetArchiveTail", u8(0), u8(1)), op("AdvanceBase", u8(0), u8(2)),
    op("ReadAll", u8(0)), restart(1, 30, 9, 1), op("ReadRestart", u8(1)),
    op("AdvanceBase", u8(1), u8(0)), op("SetArchiveTail", u8(0), u8(0)), op("Info", u8(0)),
    op("Reopen"), op("ReadAll", u8(0)), op("ReadAll", u8(1)), append(2, 20, 7), op("Crash"),
    op("ReadRestart", u8(1))]),
 "reset-delete-create": setup(1, 0, 5, False, 3, 1) + b"".join([
    append(0, 10, 1), append(1, 20, 2), append(2, 30, 3), restart(0, 8, 4), op("Reset", u8(0)),
    op("ReadStale", u8(0), u8(0)), append(0, 12, 5), op("ReadAll", u8(0)), op("ReadRestart", u8(0)),
    op("Delete", u8(1), u8(1)), op("Create", u8(1), bad(1, 3)), op("Create", u8(1), bad(3, 0)),
    op("Create", u8(1), pool(2, True)), op("Create", u8(1), pool(4, False)), append(1, 44, 6),
    op("ReadStale", u8(1), u8(0)), op("ReadForeign", u8(1), u8(2), u8(0)),
    op("Delete", u8(2), u8(0)), op("Create", u8(2), pool(8, True)), append(2, 5, 7),
    op("ReadForeign", u8(0), u8(1), u8(0)), op("Crash"), op("ReadAll", u8(1))]),
 "kinds-and-limits": setup(2, 2, 3 << 20, True, 1, 0) + b"".join([
    op("OpenDedicated", u8(0)), op("OpenDedicated", u8(1)), op("OpenDedicated", u8(2)),
    op("PhysicalLogWrites"), op("AddContainer"), append(3, 8000, 1), append(3, 100, 2),
    restart(2, 2000, 3), append(0, 400, 4), op("Create", u8(3), bad(0, 0)),
    op("Create", u8(3), bad(2, 5)), op("Create", u8(3), bad(5, 1)), op("Info", u8(3)),
    op("Reopen"), op("Crash")]),
}
out = sys.argv[1]
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
