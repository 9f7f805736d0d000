"""spoolfmt -- an independent Python implementation of the Tally spool format
described in spool/spool.h, for tests: decode what the NGINX module wrote,
and write segments for tallyd to drain.

Layout (all integers little-endian):

  segment  = header(32) record*
  header   = "TALLYSP1" u32 version(1) u32 pid u64 created_us u32 0
             u32 crc32c(header[0:28])
  record   = "TLYR" u32 payload_len u16 event_count u16 type(1)
             u32 crc32c(payload) u32 crc32c(record[0:16]) payload
  event    = u16 event_len u64 time_ms u64 visitor_id field*
  field    = u8 tag u16 len bytes[len]

Events are dicts:

  {"time_ms": int, "visitor_id": int, "site": str, "name": str, "url": str,
   "referrer": str|None, "ua": str|None, "props": str|dict|None,
   "revenue": str|dict|None, "country": str|None, "interactive": str|None}

Decoding gives text fields as str (None when absent); props and revenue stay
JSON text (use json.loads).  Unknown tags are kept under "unknown" as
{tag: bytes}.  Encoding accepts props/revenue as dicts too (serialised
compactly, props values as strings, which is what the module stores).

Only the standard library is used.
"""

import json
import os
import struct

SEG_MAGIC = b"TALLYSP1"
SEG_VERSION = 1
SEG_HDR_SIZE = 32
REC_MAGIC = b"TLYR"
REC_HDR_SIZE = 20
REC_EVENTS = 1
MAX_PAYLOAD = 1024 * 1024
MAX_EVENTS = 100
EVENT_HDR_SIZE = 18

# tag -> event dict key (enum spool_field)
FIELDS = {
    1: "site",
    2: "name",
    3: "url",
    4: "referrer",
    5: "ua",
    6: "props",
    7: "revenue",
    8: "country",
    9: "interactive",
}
TAGS = {name: tag for tag, name in FIELDS.items()}
REQUIRED = ("site", "name", "url")


class SpoolError(ValueError):
    """Bytes that are not valid spool data (a corrupt record or header)."""


class Incomplete(SpoolError):
    """The buffer ends inside a record (a torn tail or a live write)."""


# ---- CRC-32C (Castagnoli), reflected, init/xorout 0xFFFFFFFF ------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    """CRC-32C of data, continuing from a previous result crc (0 to start),
    so crc32c(b, crc32c(a)) == crc32c(a + b).  crc32c(b"123456789") is
    0xE3069283."""
    c = crc ^ 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- names and headers ---------------------------------------------------

def segment_name(created_us, pid):
    """File name of the segment created at created_us by pid."""
    return "seg-%016x-%08x.tsp" % (created_us, pid)


def parse_segment_name(name):
    """(created_us, pid) for a segment file name, or None if it is not one
    (e.g. a ".done" marker or the salt file)."""
    if (len(name) != 33 or not name.startswith("seg-")
            or not name.endswith(".tsp") or name[20] != "-"):
        return None
    try:
        return int(name[4:20], 16), int(name[21:29], 16)
    except ValueError:
        return None


def list_segments(spool):
    """Names of the segment files in directory spool, oldest first."""
    return sorted(n for n in os.listdir(spool)
                  if parse_segment_name(n) is not None)


def encode_header(pid, created_us):
    """The 32-byte segment header."""
    head = SEG_MAGIC + struct.pack("<IIQI", SEG_VERSION, pid, created_us, 0)
    return head + struct.pack("<I", crc32c(head))


def decode_header(buf):
    """(pid, created_us) from a segment header; SpoolError if invalid."""
    if len(buf) < SEG_HDR_SIZE:
        raise Incomplete("segment header incomplete")
    if buf[:8] != SEG_MAGIC:
        raise SpoolError("bad segment magic")
    version, pid, created_us, _ = struct.unpack_from("<IIQI", buf, 8)
    (crc,) = struct.unpack_from("<I", buf, 28)
    if crc != crc32c(buf[:28]):
        raise SpoolError("segment header checksum mismatch")
    if version != SEG_VERSION:
        raise SpoolError("unknown segment version %d" % version)
    return pid, created_us


# ---- events and records --------------------------------------------------

def _field_bytes(key, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        if key == "props":
            value = {str(k): v if isinstance(v, str) else json.dumps(v)
                     for k, v in value.items()}
        return json.dumps(value, separators=(",", ":"),
                          ensure_ascii=False).encode()
    return str(value).encode()


def encode_event(ev):
    """Bytes of one event.  ev holds time_ms, visitor_id and the fields
    named in FIELDS (None or missing = absent); "unknown" may map extra
    tags to bytes."""
    for key in REQUIRED:
        if ev.get(key) is None:
            raise ValueError("event lacks required field %r" % key)
    body = b""
    for tag, key in FIELDS.items():
        value = ev.get(key)
        if value is None:
            continue
        data = _field_bytes(key, value)
        if len(data) > 0xFFFF:
            raise ValueError("field %r longer than 65535 bytes" % key)
        body += struct.pack("<BH", tag, len(data)) + data
    for tag, data in (ev.get("unknown") or {}).items():
        body += struct.pack("<BH", tag, len(data)) + data
    size = 2 + 16 + len(body)
    if size > 0xFFFF:
        raise ValueError("event longer than 65535 bytes")
    return struct.pack("<HQQ", size, ev.get("time_ms", 0),
                       ev.get("visitor_id", 0)) + body


def encode_record(events):
    """Bytes of one record holding the given events (1..100)."""
    if not 1 <= len(events) <= MAX_EVENTS:
        raise ValueError("a record holds 1 to %d events" % MAX_EVENTS)
    payload = b"".join(encode_event(e) for e in events)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("payload exceeds %d bytes" % MAX_PAYLOAD)
    head = REC_MAGIC + struct.pack("<IHHI", len(payload), len(events),
                                   REC_EVENTS, crc32c(payload))
    return head + struct.pack("<I", crc32c(head)) + payload


def decode_event(buf):
    """One event dict from its exact bytes; SpoolError if malformed."""
    if len(buf) < EVENT_HDR_SIZE:
        raise SpoolError("event shorter than its header")
    size, time_ms, visitor_id = struct.unpack_from("<HQQ", buf, 0)
    if size != len(buf):
        raise SpoolError("event length mismatch")
    ev = {"time_ms": time_ms, "visitor_id": visitor_id}
    ev.update({key: None for key in FIELDS.values()})
    seen = set()
    pos = EVENT_HDR_SIZE
    while pos < size:
        if pos + 3 > size:
            raise SpoolError("field header past the event end")
        tag, flen = struct.unpack_from("<BH", buf, pos)
        pos += 3
        if pos + flen > size:
            raise SpoolError("field value past the event end")
        if tag in seen:
            raise SpoolError("field tag %d repeated" % tag)
        seen.add(tag)
        data = bytes(buf[pos:pos + flen])
        pos += flen
        if tag in FIELDS:
            try:
                ev[FIELDS[tag]] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise SpoolError("field %s is not UTF-8" % FIELDS[tag])
        else:
            ev.setdefault("unknown", {})[tag] = data
    for key in REQUIRED:
        if ev[key] is None:
            raise SpoolError("event lacks required field %s" % key)
    return ev


def decode_record(buf, offset=0):
    """Decodes the record at buf[offset:].  Returns (events, next_offset).
    Raises Incomplete if the buffer ends inside it, SpoolError if it is
    corrupt."""
    end = len(buf)
    if end - offset < REC_HDR_SIZE:
        raise Incomplete("record header incomplete")
    head = bytes(buf[offset:offset + REC_HDR_SIZE])
    if head[:4] != REC_MAGIC:
        raise SpoolError("bad record magic")
    plen, count, rtype, pcrc, hcrc = struct.unpack_from("<IHHII", head, 4)
    if hcrc != crc32c(head[:16]):
        raise SpoolError("record header checksum mismatch")
    if not 1 <= plen <= MAX_PAYLOAD or not 1 <= count <= MAX_EVENTS:
        raise SpoolError("record length or count out of range")
    if rtype != REC_EVENTS:
        raise SpoolError("unknown record type %d" % rtype)
    start = offset + REC_HDR_SIZE
    if end - start < plen:
        raise Incomplete("record payload incomplete")
    payload = bytes(buf[start:start + plen])
    if crc32c(payload) != pcrc:
        raise SpoolError("record payload checksum mismatch")
    events = []
    pos = 0
    while pos < plen:
        if pos + 2 > plen:
            raise SpoolError("event length past the payload end")
        (esize,) = struct.unpack_from("<H", payload, pos)
        if esize < EVENT_HDR_SIZE or pos + esize > plen:
            raise SpoolError("event length out of range")
        events.append(decode_event(payload[pos:pos + esize]))
        pos += esize
    if len(events) != count:
        raise SpoolError("event count mismatch")
    return events, start + plen


def read_records(path, torn_ok=False):
    """[(offset, [events])] for every record of the segment file at path, in
    order.  Strict: raises SpoolError on a bad header, a corrupt record or
    a torn tail (tests expect the module to write only whole records).  A
    tail of zero bytes at a record boundary is preallocated room, not yet
    written (UNWRITTEN TAIL in spool/spool.h); zeros followed by anything
    else are corrupt -- unless torn_ok: then they end the segment (a
    writer killed between the two pwrite()s of spool_segment_write_at
    leaves a batch without its first header; it was never acknowledged,
    and tallyd skips it as corrupt)."""
    with open(path, "rb") as f:
        buf = f.read()
    decode_header(buf)
    out = []
    pos = SEG_HDR_SIZE
    while pos < len(buf):
        if buf[pos] == 0:
            if buf.count(0, pos) != len(buf) - pos and not torn_ok:
                raise SpoolError("zeros then data at offset %d" % pos)
            break
        events, nxt = decode_record(buf, pos)
        out.append((pos, events))
        pos = nxt
    return out


def decode_segment(path, torn_ok=False):
    """Every event of the segment file at path, in order (see
    read_records)."""
    return [ev for _, recs in read_records(path, torn_ok) for ev in recs]


def decode_spool(spool, torn_ok=False):
    """Every event of every segment in directory spool, segments oldest
    first."""
    out = []
    for name in list_segments(spool):
        out.extend(decode_segment(os.path.join(spool, name), torn_ok))
    return out


# ---- writing -------------------------------------------------------------

def write_segment(path, events, pid, created_us, per_record=1,
                  finished=False):
    """Writes a segment holding events and returns its file path.

    path is either a spool directory (the file gets its proper name,
    segment_name(created_us, pid)) or a file path.  per_record events go
    into each record (the last one may hold fewer).  finished=True also
    creates the "<name>.done" marker."""
    if os.path.isdir(path):
        path = os.path.join(path, segment_name(created_us, pid))
    data = encode_header(pid, created_us)
    for i in range(0, len(events), per_record):
        data += encode_record(events[i:i + per_record])
    with open(path, "wb") as f:
        f.write(data)
    if finished:
        open(path + ".done", "wb").close()
    return path


def append_record(path, events):
    """Appends one record holding events to the segment file at path (as a
    writer would, with one write)."""
    with open(path, "ab") as f:
        f.write(encode_record(events))
