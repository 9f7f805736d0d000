"""The daily salt ratchet on the real NGINX edge, across days.

Days are crossed with the module's test seam: the environment variable
TALLY_TEST_CLOCK_OFFSET (seconds added to the clock for the ratchet's UTC
day only), passed to the workers with NGINX's `env` directive.  Every id
and every state file is checked against an independent Python version of
visitor/visitor.h (hashlib's BLAKE2b, SipHash-2-4 written here from the
paper); the spool is decoded with tests/spoolfmt.py."""

import hashlib
import ipaddress
import os
import struct
import time

import pytest

import spoolfmt
import tally

UA = ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
      "Firefox/121.0")
SITE = "example.com"
BEACON = {"n": "pageview", "u": "https://example.com/", "d": SITE}
MASK = (1 << 64) - 1


# ---- visitor.h in Python ---------------------------------------------------

def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(key, msg):
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rnd():
        v[0] = (v[0] + v[1]) & MASK
        v[1] = _rotl(v[1], 13) ^ v[0]
        v[0] = _rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & MASK
        v[3] = _rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & MASK
        v[3] = _rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & MASK
        v[1] = _rotl(v[1], 17) ^ v[2]
        v[2] = _rotl(v[2], 32)

    full = len(msg) - len(msg) % 8
    blocks = [msg[i:i + 8] for i in range(0, full, 8)]
    blocks.append(msg[full:] + bytes(7 - len(msg) % 8)
                  + bytes([len(msg) & 0xFF]))
    for b in blocks:
        m = struct.unpack("<Q", b)[0]
        v[3] ^= m
        rnd()
        rnd()
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def ratchet(key):
    return hashlib.blake2b(b"tally/ratchet/v1", key=key,
                           digest_size=32).digest()


def idkey(key):
    return hashlib.blake2b(b"tally/visitor-id/v1", key=key,
                           digest_size=16).digest()


def ip16(text):
    a = ipaddress.ip_address(text)
    return (bytes(10) + b"\xff\xff" + a.packed) if a.version == 4 else a.packed


def visitor_id(key, site=SITE, ip="127.0.0.1", ua=UA):
    s = site.encode()
    msg = struct.pack("<H", len(s)) + s + ip16(ip) + ua.encode()
    return siphash24(idkey(key), msg)


def test_python_reference_is_right():
    # SipHash paper, appendix A; BLAKE2b is hashlib's
    assert siphash24(bytes(range(16)), bytes(range(15))) == 0xA129CA6149BE45E5


# ---- helpers -----------------------------------------------------------------

def write_state(path, day, key):
    with open(path, "wb") as f:
        f.write(b"TALLYSLT" + struct.pack("<II", 1, day) + key)
    os.chmod(path, 0o600)


def read_state(path):
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) == 48 and data[:8] == b"TALLYSLT", data
    version, day = struct.unpack("<II", data[8:16])
    assert version == 1
    return day, data[16:]


def today():
    return int(time.time()) // 86400


def events_by_pid(spool):
    """{writer pid: [visitor ids in spool order]}."""
    out = {}
    for seg in spoolfmt.list_segments(spool):
        pid = spoolfmt.parse_segment_name(seg)[1]
        for _, evs in spoolfmt.read_records(os.path.join(spool, seg)):
            out.setdefault(pid, []).extend(e["visitor_id"] for e in evs)
    return out


def all_ids(spool):
    return [i for ids in events_by_pid(spool).values() for i in ids]


def files_holding(root, needles):
    """[(path, needle index)] for every file under root holding a needle."""
    hits = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            hits += [(p, i) for i, x in enumerate(needles) if x in data]
    return hits


def post(n, headers=None, close=False):
    h = {"User-Agent": UA}
    if close:
        h["Connection"] = "close"
    h.update(headers or {})
    st, _, body = n.post(BEACON, headers=h)
    assert st == 202, (st, body)


def env(offset):
    return f"env TALLY_TEST_CLOCK_OFFSET={offset};"


@pytest.fixture
def make():
    made = []

    def mk(**kw):
        n = tally.Nginx(**kw)
        made.append(n)
        return n

    yield mk
    for n in made:
        n.stop()
        tally.rmtree(n.prefix)


# ---- tests -------------------------------------------------------------------

def test_two_edges_from_one_state_file_agree(make):
    """Two edges provisioned with copies of one state file give the same
    request the same id, without talking to each other."""
    d, key = today(), os.urandom(32)
    realip = "set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;"
    a, b = make(workers=1, http_extra=realip), make(workers=1, http_extra=realip)
    for n in (a, b):
        write_state(os.path.join(n.spool, "salt"), d, key)
        n.start()
        post(n)
    ida, idb = all_ids(a.spool), all_ids(b.spool)
    assert ida == idb == [visitor_id(key)]
    # another address is another visitor, the same on both edges
    for n in (a, b):
        post(n, {"X-Forwarded-For": "203.0.113.9"})
        post(n, {"X-Forwarded-For": "2001:db8::77"})
    want = [visitor_id(key), visitor_id(key, ip="203.0.113.9"),
            visitor_id(key, ip="2001:db8::77")]
    assert all_ids(a.spool) == all_ids(b.spool) == want
    assert len(set(want)) == 3


def test_day_turn_ratchets_once_and_forgets_yesterday(make):
    """The same IP and UA get another id the next day; after the day turns
    (a reload whose workers run a day ahead) the state file moved forward
    exactly one step and yesterday's key -- and the id key derived from it
    -- is in no file under the edge's directories."""
    d, k0 = today(), os.urandom(32)
    n = make(workers=2, main_extra=env(0))
    salt = os.path.join(n.spool, "salt")
    write_state(salt, d, k0)
    n.start()
    n.wait_segments()
    post(n)
    assert all_ids(n.spool) == [visitor_id(k0)]
    assert read_state(salt) == (d, k0)

    old = set(n.worker_pids())
    n.write_conf(workers=2, main_extra=env(86400))
    n.proc.send_signal(1)                                # SIGHUP: reload
    tally.wait_until(lambda: set(n.worker_pids()) and
                     not set(n.worker_pids()) & old, timeout=15,
                     what="the reloaded workers")
    post(n, close=True)
    k1 = ratchet(k0)
    ids = all_ids(n.spool)
    assert ids[-1] == visitor_id(k1) != visitor_id(k0)
    assert read_state(salt) == (d + 1, k1)
    assert not os.path.exists(salt + ".tmp")
    assert "TALLY_TEST_CLOCK_OFFSET=86400 shifts the salt day" in \
        n.read_error_log()
    hits = files_holding(n.prefix, [k0, idkey(k0)])
    assert hits == [], f"yesterday's key still stored: {hits}"
    # today's key is (of course) in the state file, so the scan can see it
    assert files_holding(n.prefix, [k1]) == [(salt, 0)]


def test_four_workers_cross_midnight_together(make):
    """Four workers whose clock passes midnight while beacons arrive: every
    worker switches to the next day's id, and they leave one valid state
    file, exactly one ratchet step ahead."""
    tomorrow, k0 = today() + 1, os.urandom(32)
    # the workers' clock starts 3 s before the end of tomorrow
    offset = (tomorrow + 1) * 86400 - 3 - int(time.time())
    n = make(workers=4, main_extra=env(offset))
    with open(n.conf) as f:
        conf = f.read()
    with open(n.conf, "w") as f:       # spread connections over workers
        f.write(conf.replace(f"listen 127.0.0.1:{n.port};",
                             f"listen 127.0.0.1:{n.port} reuseport;"))
    salt = os.path.join(n.spool, "salt")
    write_state(salt, tomorrow, k0)
    n.start()
    n.wait_segments()
    k1 = ratchet(k0)
    before, after = visitor_id(k0), visitor_id(k1)

    def all_crossed():
        post(n, close=True)
        by = events_by_pid(n.spool)
        return len(by) == 4 and all(after in ids for ids in by.values())
    tally.wait_until(all_crossed, timeout=30, interval=0.01,
                     what="all four workers to pass midnight")
    for pid, ids in events_by_pid(n.spool).items():
        assert set(ids) <= {before, after}, pid
        first = ids.index(after)
        assert before not in ids[first:], f"worker {pid} went back a day"
    assert read_state(salt) == (tomorrow + 1, k1)
    assert not os.path.exists(salt + ".tmp")
    assert files_holding(n.prefix, [k0, idkey(k0)]) == []


def test_clock_set_back_does_not_rewind(make):
    """A state file ahead of the clock is kept as it is (a warning says
    so): the key of a later day is never traded for an earlier one."""
    ahead, key = today() + 5, os.urandom(32)
    n = make(workers=1, main_extra=env(-86400))
    salt = os.path.join(n.spool, "salt")
    write_state(salt, ahead, key)
    n.start()
    n.wait_segments()
    post(n)
    assert read_state(salt) == (ahead, key)
    assert all_ids(n.spool) == [visitor_id(key)]
    assert "clock is behind the salt state file" in n.read_error_log()
