"""The NGINX module against the real /usr/sbin/nginx: configuration checks,
the beacon endpoint's answers, what lands in the spool (decoded with the
independent Python implementation in tests/spoolfmt.py), and what never
does (rejected beacons, client addresses)."""

import hashlib
import http.client
import json
import os
import signal
import stat
import struct
import time

import pytest

import spoolfmt
import tally

UA1 = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
       "(KHTML, like Gecko) Chrome/120.0 Safari/537.36")
UA2 = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) Version/17.0 Safari/605.1.15")

PAGEVIEW = {"name": "pageview", "url": "https://example.com/pricing?x=1",
            "domain": "example.com", "referrer": "https://news.example/"}


def snapshot(spool):
    """{file name: bytes} of every file in the spool."""
    out = {}
    for name in sorted(os.listdir(spool)):
        with open(os.path.join(spool, name), "rb") as f:
            out[name] = f.read()
    return out


def records(spool):
    """[(segment, offset, events)] of every record in the spool."""
    out = []
    for seg in spoolfmt.list_segments(spool):
        for off, evs in spoolfmt.read_records(os.path.join(spool, seg)):
            out.append((seg, off, evs))
    return out


def events(spool):
    return [ev for _, _, evs in records(spool) for ev in evs]


def error_of(body):
    data = json.loads(body)
    assert set(data) == {"error"}, data
    return data["error"]


@pytest.fixture
def nginx_factory():
    """Creates (not starts) Nginx instances and cleans them up."""
    made = []

    def make(**kw):
        n = tally.Nginx(**kw)
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()
        tally.rmtree(n.prefix)


# ---- configuration -----------------------------------------------------

def test_config_valid(nginx_factory):
    n = nginx_factory()
    rc, out = n.test_config()
    assert rc == 0, out
    assert "test is successful" in out


def test_config_missing_spool_dir(nginx_factory):
    n = nginx_factory()
    os.rmdir(n.spool)
    rc, out = n.test_config()
    assert rc != 0
    assert "tally_spool" in out and n.spool in out, out
    assert "No such file or directory" in out, out


def test_config_spool_not_a_directory(nginx_factory):
    n = nginx_factory()
    os.rmdir(n.spool)
    open(n.spool, "w").close()
    rc, out = n.test_config()
    assert rc != 0
    assert "is not a directory" in out, out


def test_config_collect_requires_spool(nginx_factory):
    n = nginx_factory()
    with open(n.conf) as f:
        conf = f.read()
    with open(n.conf, "w") as f:
        f.write(conf.replace(f"tally_spool {n.spool};", ""))
    rc, out = n.test_config()
    assert rc != 0
    assert '"tally_collect" requires "tally_spool"' in out, out


def test_config_broken_salt_file_fails_and_is_kept(nginx_factory):
    n = nginx_factory()
    salt = os.path.join(n.spool, "salt")
    with open(salt, "wb") as f:
        f.write(b"not a salt state")
    rc, out = n.test_config()
    assert rc != 0
    assert "tally_salt_file" in out and salt in out, out
    with open(salt, "rb") as f:
        assert f.read() == b"not a salt state"


def test_salt_file_created_0600_for_workers(edge):
    salt = os.path.join(edge.spool, "salt")
    st = os.stat(salt)
    assert stat.S_IMODE(st.st_mode) == 0o600
    uid, gid = tally.worker_ids()
    assert (st.st_uid, st.st_gid) == (uid, gid)
    with open(salt, "rb") as f:
        data = f.read()
    assert len(data) == 48 and data[:8] == b"TALLYSLT"
    day = int.from_bytes(data[12:16], "little")
    assert day == int(time.time()) // 86400
    assert os.stat(salt + ".lock").st_uid == uid


def test_custom_salt_file(nginx_factory):
    n = nginx_factory()
    d = os.path.join(n.prefix, "state")
    os.mkdir(d)
    n.write_conf(http_extra=f"tally_salt_file {d}/edge.salt;")
    n.start()
    assert n.post(PAGEVIEW)[0] == 202
    assert os.path.getsize(os.path.join(d, "edge.salt")) == 48
    assert not os.path.exists(os.path.join(n.spool, "salt"))


def test_spool_dir_given_to_workers(nginx_factory):
    n = nginx_factory()
    os.chown(n.spool, 0, 0)
    os.chmod(n.spool, 0o755)
    n.start()
    assert os.stat(n.spool).st_uid == tally.worker_ids()[0]
    assert n.post(PAGEVIEW)[0] == 202
    assert len(events(n.spool)) == 1


# ---- accepted beacons ----------------------------------------------------

def test_pageview_is_one_record(edge):
    before = records(edge.spool)
    st, hdrs, body = edge.post(PAGEVIEW)
    assert (st, body) == (202, b"")
    assert hdrs["content-length"] == "0"
    assert hdrs["access-control-allow-origin"] == "*"
    after = records(edge.spool)
    assert len(after) == len(before) + 1
    (ev,) = after[-1][2]
    assert ev["site"] == "example.com"
    assert ev["name"] == "pageview"
    assert ev["url"] == PAGEVIEW["url"]
    assert ev["referrer"] == PAGEVIEW["referrer"]
    assert ev["ua"] == UA1
    assert ev["props"] is None and ev["revenue"] is None
    assert ev["interactive"] is None
    assert abs(ev["time_ms"] - time.time() * 1000) < 5000
    assert ev["visitor_id"] != 0


def test_custom_event_with_props(edge):
    beacon = {"n": "Signup", "u": "https://example.com/join",
              "d": " Example.COM ", "p": {"plan": "pro", "seats": 3,
                                          "trial": True},
              "$": {"currency": "EUR", "amount": "49.90"}, "i": False,
              "h": 1, "w": 1440, "sv": "2"}
    before = len(records(edge.spool))
    st, _, body = edge.post(beacon, ctype="text/plain; charset=utf-8")
    assert (st, body) == (202, b"")
    recs = records(edge.spool)
    assert len(recs) == before + 1
    (ev,) = recs[-1][2]
    assert ev["site"] == "example.com"
    assert ev["name"] == "Signup"
    assert json.loads(ev["props"]) == {"plan": "pro", "seats": "3",
                                       "trial": "true"}
    assert json.loads(ev["revenue"]) == {"currency": "EUR",
                                         "amount": "49.90"}
    assert ev["interactive"] == "0"


def test_multi_domain_beacon_is_one_record(edge):
    st, _, _ = edge.post({"n": "pageview", "u": "https://a.example/",
                          "d": "a.example,B.example"})
    assert st == 202
    recs = records(edge.spool)
    assert len(recs) == 1
    evs = recs[0][2]
    assert [e["site"] for e in evs] == ["a.example", "b.example"]
    assert evs[0]["time_ms"] == evs[1]["time_ms"]
    assert evs[0]["visitor_id"] != evs[1]["visitor_id"]


def test_batch_is_one_record(edge):
    batch = [dict(PAGEVIEW, url=f"https://example.com/{i}") for i in range(10)]
    assert edge.post(batch)[0] == 202
    (rec,) = records(edge.spool)
    assert [e["url"] for e in rec[2]] == [b["url"] for b in batch]


def test_visitor_id_depends_on_user_agent(edge):
    for ua in (UA1, UA1, UA2):
        assert edge.post(PAGEVIEW, headers={"User-Agent": ua})[0] == 202
    evs = sorted(events(edge.spool), key=lambda e: e["time_ms"])
    by_ua = {}
    for e in evs:
        by_ua.setdefault(e["ua"], set()).add(e["visitor_id"])
    assert len(by_ua[UA1]) == 1, "same site, IP and UA: same visitor id"
    assert by_ua[UA1] != by_ua[UA2]


def test_chunked_body_accepted(edge):
    conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    payload = json.dumps(PAGEVIEW).encode()
    chunks = iter([payload[:10], payload[10:30], payload[30:]])
    conn.request("POST", "/api/event", body=chunks, encode_chunked=True,
                 headers={"Content-Type": "application/json",
                          "User-Agent": UA1})
    resp = conn.getresponse()
    assert resp.status == 202, resp.read()
    resp.read()
    conn.close()
    (ev,) = events(edge.spool)
    assert ev["url"] == PAGEVIEW["url"]


BIG = dict(PAGEVIEW, referrer="https://r.example/" + "r" * 1900,
           props={f"k{i}": chr(97 + i) * 1990 for i in range(6)})


def test_body_beyond_default_body_buffer_stays_in_memory(edge):
    # larger than the default 8k client_body_buffer_size, which
    # tally_collect raises to tally_max_body_size: no temp file (whose
    # warning would carry the client address into the error log)
    body = json.dumps(BIG)
    assert 12000 < len(body) < 16 * 1024
    st, _, resp = edge.post(body)
    assert st == 202, resp
    assert "temporary file" not in edge.read_error_log()
    (ev,) = events(edge.spool)
    assert json.loads(ev["props"]) == BIG["props"]
    assert ev["referrer"] == BIG["referrer"]


@pytest.mark.parametrize("chunked", [False, True])
def test_body_read_back_from_temp_file(nginx_factory, chunked):
    n = nginx_factory()
    n.write_conf(server_extra="location = /file { tally_collect; "
                              "client_body_in_file_only clean; }")
    n.start()
    payload = json.dumps(BIG).encode()
    conn = http.client.HTTPConnection("127.0.0.1", n.port, timeout=10)
    body = iter([payload[:5000], payload[5000:]]) if chunked else payload
    conn.request("POST", "/file", body=body, encode_chunked=chunked,
                 headers={"Content-Type": "application/json",
                          "User-Agent": UA1})
    resp = conn.getresponse()
    assert resp.status == 202, resp.read()
    conn.close()
    assert "temporary file" in n.read_error_log()
    (ev,) = events(n.spool)
    assert json.loads(ev["props"]) == BIG["props"]


def test_module_bytes_match_python_encoder(edge):
    """spoolfmt re-encodes what it decoded to the module's exact bytes."""
    edge.post(PAGEVIEW)
    edge.post({"n": "x", "u": "https://a.b/", "d": "a.b,c.d",
               "p": {"k": "v"}, "$": {"currency": "USD", "amount": 1}})
    for seg in spoolfmt.list_segments(edge.spool):
        path = os.path.join(edge.spool, seg)
        with open(path, "rb") as f:
            data = f.read()
        pid, created = spoolfmt.decode_header(data)
        assert spoolfmt.segment_name(created, pid) == seg
        rebuilt = spoolfmt.encode_header(pid, created) + b"".join(
            spoolfmt.encode_record(evs)
            for _, evs in spoolfmt.read_records(path))
        assert rebuilt == data


# ---- rejected beacons ----------------------------------------------------

BAD = [
    ("malformed JSON", '{"n": "pageview", "u": ', 400, "invalid JSON"),
    ("not an object", '"pageview"', 400, "body must be a JSON object"),
    ("missing name", {"u": "https://a.b/", "d": "a.b"}, 400,
     "missing field: name"),
    ("missing url", {"n": "pageview", "d": "a.b"}, 400,
     "missing field: url"),
    ("missing domain", {"n": "pageview", "u": "https://a.b/"}, 400,
     "missing field: domain"),
    ("name not a string", {"n": 1, "u": "https://a.b/", "d": "a.b"}, 400,
     "name: must be a string"),
    ("relative url", {"n": "x", "u": "/p", "d": "a.b"}, 400,
     "url: must be an absolute http(s) URL"),
    ("domain not a string", {"n": "x", "u": "https://a.b/", "d": ["a.b"]},
     400, "domain: must be a string"),
    ("props not an object", dict(PAGEVIEW, props=[1, 2]), 400,
     "props: must be an object"),
    ("props nested", dict(PAGEVIEW, props={"a": {"b": 1}}), 400,
     "props: values must be strings, numbers or booleans"),
    ("props 31 pairs", dict(PAGEVIEW, props={f"k{i}": "v" for i in range(31)}),
     400, "props: too many properties (max 30)"),
    ("bad revenue", dict(PAGEVIEW, revenue={"currency": "eur", "amount": 1}),
     400, "revenue: currency must be 3 upper-case letters"),
    ("empty body", "", 400, "empty body"),
    ("NUL escape", '{"n":"a\\u0000","u":"https://a.b/","d":"a.b"}', 400,
     "invalid JSON"),
]


@pytest.mark.parametrize("what,body,status,message", BAD,
                         ids=[b[0] for b in BAD])
def test_bad_beacon_changes_nothing(edge, what, body, status, message):
    edge.post(PAGEVIEW)                  # segments hold something already
    before = snapshot(edge.spool)
    st, hdrs, resp = edge.post(body)
    assert st == status, resp
    assert hdrs["content-type"] == "application/json"
    assert hdrs["access-control-allow-origin"] == "*"
    assert int(hdrs["content-length"]) == len(resp)
    assert error_of(resp) == message
    assert snapshot(edge.spool) == before


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_405(edge, method):
    before = snapshot(edge.spool)
    st, hdrs, resp = edge.post(PAGEVIEW, method=method)
    assert st == 405
    assert hdrs["allow"] == "POST, OPTIONS"
    assert error_of(resp) == "method not allowed"
    assert snapshot(edge.spool) == before


@pytest.mark.parametrize("ctype", ["text/html", "application/x-www-form-"
                                   "urlencoded", "multipart/form-data"])
def test_wrong_content_type_415(edge, ctype):
    before = snapshot(edge.spool)
    st, _, resp = edge.post(PAGEVIEW, ctype=ctype)
    assert st == 415
    assert "content type" in error_of(resp)
    assert snapshot(edge.spool) == before


def test_missing_content_type_415(edge):
    st, _, resp = tally.request(edge.port, "POST", "/api/event",
                                json.dumps(PAGEVIEW))
    assert st == 415


def test_oversized_body_413(edge):
    before = snapshot(edge.spool)
    body = json.dumps(dict(PAGEVIEW, x="a" * (16 * 1024)))
    st, _, resp = edge.post(body)
    assert st == 413
    assert error_of(resp) == "body too large"
    assert snapshot(edge.spool) == before


def test_oversized_chunked_body_413(edge):
    before = snapshot(edge.spool)
    payload = json.dumps(dict(PAGEVIEW, x="a" * (20 * 1024))).encode()
    conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    conn.request("POST", "/api/event",
                 body=iter([payload[i:i + 4096]
                            for i in range(0, len(payload), 4096)]),
                 encode_chunked=True,
                 headers={"Content-Type": "application/json",
                          "User-Agent": UA1})
    resp = conn.getresponse()
    assert resp.status == 413
    assert error_of(resp.read()) == "body too large"
    conn.close()
    assert snapshot(edge.spool) == before


def test_max_body_size_directive(nginx_factory):
    n = nginx_factory()
    n.write_conf(server_extra="location = /small { tally_collect; "
                              "tally_max_body_size 200; }")
    n.start()
    small = json.dumps(PAGEVIEW)
    big = json.dumps(dict(PAGEVIEW, props={"k": "v" * 300}))
    assert n.post(small, path="/small")[0] == 202
    assert n.post(big, path="/small")[0] == 413
    assert n.post(big)[0] == 202          # default 16k elsewhere


def test_keepalive_survives_errors(edge):
    conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    st, hdrs, _ = edge.post("{broken", conn=conn)
    assert st == 400
    assert hdrs.get("connection") == "keep-alive"
    sock = conn.sock
    assert sock is not None
    for method, ctype, status in (("GET", "application/json", 405),
                                  ("POST", "text/html", 415),
                                  ("OPTIONS", "application/json", 204),
                                  ("POST", "application/json", 202)):
        st, _, _ = edge.post(PAGEVIEW, ctype=ctype, conn=conn, method=method)
        assert st == status
        assert conn.sock is sock, f"connection closed after {status}"
    conn.close()


def test_options_preflight(edge):
    st, hdrs, body = tally.request(
        edge.port, "OPTIONS", "/api/event",
        headers={"Origin": "https://shop.example",
                 "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"})
    assert (st, body) == (204, b"")
    assert hdrs["access-control-allow-origin"] == "https://shop.example"
    assert hdrs["access-control-allow-methods"] == "POST, OPTIONS"
    assert hdrs["access-control-allow-headers"] == "Content-Type"
    assert hdrs["access-control-max-age"] == "86400"
    st, hdrs, _ = tally.request(edge.port, "OPTIONS", "/api/event")
    assert st == 204 and hdrs["access-control-allow-origin"] == "*"


def test_post_echoes_origin(edge):
    st, hdrs, _ = edge.post(PAGEVIEW, headers={"Origin": "https://a.example"})
    assert st == 202
    assert hdrs["access-control-allow-origin"] == "https://a.example"
    assert "Origin" in hdrs.get("vary", "")


# ---- privacy -------------------------------------------------------------

def test_no_client_address_in_spool_or_tally_logs(edge):
    edge.post(PAGEVIEW)
    edge.post({"n": "x", "u": "https://a.b/", "d": "a.b,c.d",
               "p": {"k": "v"}})
    edge.post("{bad")
    data = tally.spool_bytes(edge.spool)
    assert len(events(edge.spool)) == 3
    assert b"127.0.0.1" not in data
    assert bytes([127, 0, 0, 1]) not in data
    for line in edge.read_error_log().splitlines():
        if "tally" in line:
            assert "127.0.0.1" not in line, line


# ---- segments and failures -----------------------------------------------

def test_segments_rotate_and_are_finished_on_stop(nginx_factory):
    n = nginx_factory(workers=1, http_extra="tally_segment_size 4k;")
    n.start()
    for i in range(40):
        st, _, _ = n.post(dict(PAGEVIEW, url=f"https://example.com/{i}"))
        assert st == 202
    segs = spoolfmt.list_segments(n.spool)
    assert len(segs) >= 3
    for seg in segs[:-1]:
        assert os.path.getsize(os.path.join(n.spool, seg)) >= 4096
        assert os.path.exists(os.path.join(n.spool, seg + ".done"))
    assert [e["url"] for e in events(n.spool)] == \
        [f"https://example.com/{i}" for i in range(40)]
    n.stop()
    for seg in spoolfmt.list_segments(n.spool):
        assert os.path.exists(os.path.join(n.spool, seg + ".done"))


def test_unwritable_spool_answers_503_then_recovers(nginx_factory):
    n = nginx_factory(workers=1, http_extra="tally_segment_size 4k;")
    n.start()
    uid, gid = tally.worker_ids()
    os.chown(n.spool, 0, 0)
    os.chmod(n.spool, 0o755)
    try:
        statuses = []
        for i in range(60):
            st, hdrs, body = n.post(PAGEVIEW)
            statuses.append(st)
            if st != 202:
                break
        assert st == 503, statuses
        assert hdrs["retry-after"] == "1"
        assert "retry" in error_of(body)
        stored = len(events(n.spool))
        assert stored == statuses.count(202)
        assert n.post(PAGEVIEW)[0] == 503
    finally:
        os.chown(n.spool, uid, gid)
    assert n.post(PAGEVIEW)[0] == 202
    assert len(events(n.spool)) == stored + 1
    assert "cannot create a spool segment" in n.read_error_log()


def test_reload_keeps_accepting(nginx_factory):
    n = nginx_factory(workers=1)
    n.start()
    assert n.post(PAGEVIEW)[0] == 202
    old = set(n.worker_pids())
    n.proc.send_signal(signal.SIGHUP)
    tally.wait_until(lambda: set(n.worker_pids()).isdisjoint(old)
                     and n.worker_pids(), what="new workers after HUP")
    assert n.post(PAGEVIEW)[0] == 202
    segs = spoolfmt.list_segments(n.spool)
    assert len(segs) == 2
    tally.wait_until(lambda: os.path.exists(
        os.path.join(n.spool, segs[0] + ".done")),
        what="old worker's segment finished")
    assert len(events(n.spool)) == 2


# ---- visitor ids, checked against an independent implementation ----------

def _siphash24(key, msg):
    """SipHash-2-4 (libsodium crypto_shorthash) as an unsigned 64-bit int."""
    mask = (1 << 64) - 1
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask

    def rnd():
        v[0] = (v[0] + v[1]) & mask
        v[1] = rotl(v[1], 13) ^ v[0]
        v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & mask
        v[3] = rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & mask
        v[3] = rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & mask
        v[1] = rotl(v[1], 17) ^ v[2]
        v[2] = rotl(v[2], 32)

    full = len(msg) // 8 * 8
    for i in range(0, full, 8):
        (m,) = struct.unpack_from("<Q", msg, i)
        v[3] ^= m
        rnd()
        rnd()
        v[0] ^= m
    b = (len(msg) & 0xFF) << 56
    for i, c in enumerate(msg[full:]):
        b |= c << (8 * i)
    v[3] ^= b
    rnd()
    rnd()
    v[0] ^= b
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def _expected_visitor_id(day_key, site, ip16, ua):
    idkey = hashlib.blake2b(b"tally/visitor-id/v1", key=day_key,
                            digest_size=16).digest()
    s = site.encode()
    msg = len(s).to_bytes(2, "little") + s + ip16 + ua.encode()
    return _siphash24(idkey, msg)


def test_siphash_reference_vector():
    # SipHash-2-4 paper, Appendix A: key 00..0f, message 00..0e
    assert _siphash24(bytes(range(16)), bytes(range(15))) == \
        0xA129CA6149BE45E5


def test_visitor_id_matches_spec_and_salt_ratchets_at_start(nginx_factory):
    """A state file left at yesterday is ratcheted to today at start, and
    ids are SipHash(BLAKE2b(K_today, "tally/visitor-id/v1"), u16le(len)
    site ip16 ua) with 127.0.0.1 as ::ffff:127.0.0.1."""
    n = nginx_factory()
    today = int(time.time()) // 86400
    k_yesterday = bytes(range(100, 132))
    salt = os.path.join(n.spool, "salt")
    with open(salt, "wb") as f:
        f.write(b"TALLYSLT" + (1).to_bytes(4, "little")
                + (today - 1).to_bytes(4, "little") + k_yesterday)
    os.chmod(salt, 0o600)
    n.start()
    with open(salt, "rb") as f:
        data = f.read()
    k_today = hashlib.blake2b(b"tally/ratchet/v1", key=k_yesterday,
                              digest_size=32).digest()
    assert int.from_bytes(data[12:16], "little") == today
    assert data[16:48] == k_today
    assert n.post({"n": "pageview", "u": "https://a.b/",
                   "d": "A.example, b.example"})[0] == 202
    ip16 = bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1])
    evs = events(n.spool)
    assert [e["site"] for e in evs] == ["a.example", "b.example"]
    for e in evs:
        assert e["visitor_id"] == _expected_visitor_id(k_today, e["site"],
                                                       ip16, UA1)
