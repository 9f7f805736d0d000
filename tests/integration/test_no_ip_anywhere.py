"""DESIGN invariant 3 end to end: beacons from many client addresses
(IPv4 and IPv6, through X-Forwarded-For and NGINX's realip module) go
through the real NGINX edge and the real tallyd; then every byte of the
spool, the salt state file, the database (with its WAL and shared-memory
file), tallyd's log and the Tally lines of NGINX's error log is searched
for each address, as text and as 4- and 16-byte binary: none may appear."""

import ipaddress
import os
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import spoolfmt  # noqa: E402
import tally  # noqa: E402

UA = ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
      "Firefox/121.0")
CLIENTS = ["203.0.113.77", "198.51.100.213", "192.0.2.149", "100.64.17.93",
           "2001:db8:85a3::8a2e:370:7334", "2001:db8:4:5::beef",
           "2a02:8071:1fcd:9c00:35e6:12ab:98ce:4f21", "fd12:3456:789a::42"]


def forms(text):
    """Every form of an address worth searching for."""
    a = ipaddress.ip_address(text)
    out = {str(a).encode(), a.packed}
    if a.version == 4:
        mapped = ipaddress.IPv6Address("::ffff:" + str(a))
        out |= {mapped.packed, ("::ffff:" + str(a)).encode(),
                mapped.exploded.encode()}
    else:
        out |= {a.exploded.encode(), a.exploded.replace(":", "").encode()}
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tree_bytes(root):
    """{path: bytes} of every file under root."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p):
                out[p] = read(p)
    return out


def assert_no_ip(blobs, where):
    found = []
    for ip in CLIENTS:
        for f in forms(ip):
            for path, data in blobs.items():
                if f in data:
                    found.append((ip, f, path))
    assert not found, f"client addresses in {where}: {found[:5]}"


def test_no_client_address_anywhere():
    realip = ("set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;")
    prefix = tally.make_tmpdir("tally-noip-")
    access = os.path.join(prefix, "logs", "access.log")
    # NGINX's own access log (not Tally's) is the control: it must show
    # the addresses, or the search below could not find them either
    n = tally.Nginx(workers=2, http_extra=realip, prefix=prefix,
                    server_extra=f"access_log {access};").start()
    t = None
    try:
        n.wait_segments()
        sent = 0
        for i, ip in enumerate(CLIENTS):
            h = {"X-Forwarded-For": ip, "User-Agent": UA}
            for j in range(3):
                st, _, _ = n.post({"n": "pageview", "d": "shop.example",
                                   "u": f"https://shop.example/p{j}?id={i}",
                                   "r": "https://search.example/"}, headers=h)
                assert st == 202
                sent += 1
            st, _, _ = n.post({"n": "Signup", "d": "shop.example",
                               "u": "https://shop.example/join",
                               "p": {"plan": "pro"}}, headers=h)
            assert st == 202
            sent += 1
            # rejected beacons from the same clients (they may be logged)
            assert n.post("{bad json", headers=h)[0] == 400
            assert n.post({"n": "pageview"}, headers=h)[0] == 400

        # the spool as the edge wrote it (salt state file included)
        evs = [e for seg in spoolfmt.list_segments(n.spool)
               for _, batch in spoolfmt.read_records(os.path.join(n.spool, seg))
               for e in batch]
        assert len(evs) == sent
        # realip worked: one visitor id per client address
        assert len({e["visitor_id"] for e in evs}) == len(CLIENTS)
        assert os.path.exists(os.path.join(n.spool, "salt"))
        assert_no_ip(tree_bytes(n.spool), "the spool")

        t = tally.Tallyd(n.spool).start()

        def stored():
            con = sqlite3.connect(f"file:{t.db}?mode=ro", uri=True)
            try:
                return con.execute("SELECT COUNT(*) FROM events"
                                   ).fetchone()[0] == sent
            finally:
                con.close()
        tally.wait_until(stored, timeout=30, what="tallyd to store the events")
        # while tallyd runs: database, WAL, shared memory, its log, spool
        blobs = tree_bytes(t.dir)
        assert any(p.endswith("-wal") for p in blobs), sorted(blobs)
        assert_no_ip(blobs, "tallyd's files (running)")
        assert_no_ip(tree_bytes(n.spool), "the spool (drained)")
        assert t.stop() == 0
        t_files = tree_bytes(t.dir)
        tally.rmtree(t.dir)
        t = None
        assert_no_ip(t_files, "tallyd's files (stopped)")
        # the Tally lines of NGINX's error log
        n.stop()
        for ip in CLIENTS:
            assert ip.encode() in read(access), f"control: {ip} not in access log"
        lines = [ln for ln in n.read_error_log().splitlines()
                 if "tally" in ln.lower()]
        assert lines, "the edge logged nothing about Tally"
        assert_no_ip({"error.log (tally lines)": "\n".join(lines).encode()},
                     "NGINX's Tally log lines")
    finally:
        if t is not None:
            t.stop()
            tally.rmtree(t.dir)
        n.stop()
        tally.rmtree(n.prefix)
