"""docker/: what can be checked without a Docker engine (there is none on
the CI machine, so the images themselves are never built here).

- compose.yaml parses and wires edge, tallyd and the redis profile as
  docs/install.md says;
- both Dockerfiles carry the identical builder stage, every COPY source
  exists and is not excluded from the build context, every Debian package
  they install exists in bookworm;
- the edge image's nginx.conf runs in the real nginx with the installed
  module (paths mapped to a DESTDIR install) and takes a beacon, serves the
  tracker and the demo page, and the healthcheck script tells up from down;
- the tallyd entry point creates and prints an API key on first start only,
  and the key works."""

import json
import os
import re
import shutil
import signal
import subprocess

import pytest

import tally
from test_install import run_install, PREFIX, UA

DOCKER = os.path.join(tally.ROOT, "docker")
DOCKERFILES = ("Dockerfile.edge", "Dockerfile.tallyd")
HEALTH = os.path.join(DOCKER, "healthcheck.sh")


def load_yaml(path):
    """js-yaml (a devDependency, so present after make deps), else PyYAML."""
    js = ("const y=require('js-yaml'),fs=require('fs');"
          "process.stdout.write(JSON.stringify(y.load("
          "fs.readFileSync(process.argv[1],'utf8'))))")
    r = subprocess.run(["node", "-e", js, path], cwd=tally.ROOT,
                       capture_output=True, text=True)
    if r.returncode == 0:
        return json.loads(r.stdout)
    yaml = pytest.importorskip("yaml", reason="no YAML parser: " + r.stderr)
    return yaml.safe_load(open(path))


def read(name):
    with open(os.path.join(DOCKER, name)) as f:
        return f.read()


def test_compose_file():
    c = load_yaml(os.path.join(DOCKER, "compose.yaml"))
    s = c["services"]
    assert {"edge", "tallyd", "redis", "edge2", "ship2"} <= set(s)
    assert s["edge"]["ports"] == ["8080:8080"]
    assert s["tallyd"]["ports"] == ["127.0.0.1:8089:8089"]
    assert "spool:/var/spool/tally" in s["edge"]["volumes"]
    assert "spool:/var/spool/tally" in s["tallyd"]["volumes"]
    assert "state:/var/lib/tally" in s["tallyd"]["volumes"]
    for name in ("redis", "edge2", "ship2"):
        assert s[name]["profiles"] == ["redis"], name
    for name in ("edge", "tallyd"):
        assert "profiles" not in s[name]
    # the shipper and the local tallyd never drain the same spool
    assert "spool2:/var/spool/tally" in s["ship2"]["volumes"]
    assert "spool2:/var/spool/tally" in s["edge2"]["volumes"]
    ship = s["ship2"]["command"]
    assert ship[0] == "ship" and "--redis" in ship and "--edge" in ship
    assert ship[ship.index("--redis") + 1].startswith("redis://redis:")
    declared = set(c["volumes"])
    for name, svc in s.items():
        for v in svc.get("volumes", []):
            assert v.split(":")[0] in declared, (name, v)
        b = svc.get("build")
        if b:
            ctx = os.path.normpath(os.path.join(DOCKER, b["context"]))
            assert ctx == tally.ROOT
            assert os.path.isfile(os.path.join(ctx, b["dockerfile"]))


def builder_stage(text):
    m = re.search(r"^# ---- build .*?^# ---- end of build -+$", text,
                  re.M | re.S)
    assert m, "no builder stage markers"
    return m.group(0)


def test_builder_stage_identical():
    a, b = (builder_stage(read(n)) for n in DOCKERFILES)
    assert a == b
    assert "FROM node:20-bookworm AS build" in a
    assert "make build" in a


def dockerignore(name):
    return [l.strip() for l in read(name + ".dockerignore").splitlines()
            if l.strip() and not l.startswith("#")]


def instructions(text):
    """Dockerfile instructions with continuation lines joined."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur += line.rstrip("\\") + " "
        if not line.endswith("\\"):
            out.append(cur.strip())
            cur = ""
    return out


# what the builder stage leaves in /src/build
BUILT = {"build/tallyd", "build/ngx_http_tally_module.so", "build/data/",
         "build/dashboard/", "build/tally.js", "build/nginx-version"}


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_sources(name):
    ignored = dockerignore(name)
    assert {"build", "node_modules", ".git"} <= set(ignored)
    stages, copies = [], 0
    for ins in instructions(read(name)):
        word, _, rest = ins.partition(" ")
        if word == "FROM":
            stages.append(rest.split()[-1])
        if word != "COPY":
            continue
        copies += 1
        args = rest.split()
        frm = [a for a in args if a.startswith("--from=")]
        srcs = [a for a in args if not a.startswith("--")][:-1]
        for src in srcs:
            if frm:
                assert frm[0] == "--from=build"
                rel = os.path.relpath(src, "/src") + ("/" if src.endswith("/") else "")
                assert rel in BUILT, (name, src)
            else:
                assert os.path.exists(os.path.join(tally.ROOT, src)), src
                top = src.split("/")[0]
                assert top not in ignored, (name, src)
    assert stages[0] == "build" and len(stages) == 2
    assert copies >= 5


def test_dockerfile_entrypoints_are_copied():
    for name in DOCKERFILES:
        text = read(name)
        for m in re.finditer(r'(?:ENTRYPOINT|CMD) \["(/usr/local/bin/[^"]+)"',
                             text):
            assert re.search(r"^COPY \S+ " + re.escape(m.group(1)) + "$",
                             text, re.M), (name, m.group(1))
    edge = read("Dockerfile.edge")
    assert "USER" not in edge          # nginx's master needs root; workers drop
    tallyd = read("Dockerfile.tallyd")
    assert re.search(r"^USER tally:tally$", tallyd, re.M)
    for text in (edge, tallyd):         # one gid for group tally in both images
        assert "groupadd --system --gid 990 tally" in text


def apt_packages(text):
    pkgs = set()
    for ins in instructions(text):
        m = re.search(r"apt-get install (.*?)(?:&&|$)", ins)
        if m:
            for w in re.sub(r"\$\([^)]*\)", "", m.group(1)).split():
                w = w.strip('"')
                if not w.startswith("-"):
                    pkgs.add(w.split("=")[0])
    return pkgs


def test_debian_packages_exist():
    if subprocess.run(["apt-cache", "show", "nginx"],
                      capture_output=True).returncode != 0:
        pytest.skip("apt lists not available (apt-get update)")
    pkgs = set()
    for name in DOCKERFILES:
        pkgs |= apt_packages(read(name))
    assert {"nginx", "nginx-dev", "libsodium23", "libjansson4", "libpcre2-8-0",
            "libmaxminddb0", "libsqlite3-0", "libmicrohttpd12",
            "libhiredis0.14", "zlib1g"} <= pkgs
    r = subprocess.run(["apt-cache", "show", "--no-all-versions", *sorted(pkgs)],
                       capture_output=True, text=True)
    found = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    assert found == pkgs, (pkgs - found, r.stderr)


def test_scripts_parse():
    for name in ("edge-entrypoint.sh", "tallyd-entrypoint.sh"):
        subprocess.run(["sh", "-n", os.path.join(DOCKER, name)], check=True)
    subprocess.run(["bash", "-n", HEALTH], check=True)
    for name in ("edge-entrypoint.sh", "tallyd-entrypoint.sh", "healthcheck.sh"):
        assert os.access(os.path.join(DOCKER, name), os.X_OK), name


def health(method, port, path):
    return subprocess.run(["bash", HEALTH, method, str(port), path],
                          capture_output=True, text=True, timeout=10)


def test_edge_nginx_conf_in_real_nginx():
    """docker/nginx-edge.conf with the image's paths mapped onto a DESTDIR
    install (PREFIX /usr/local instead of the image's /usr)."""
    d = tally.make_tmpdir("tally-destdir-")
    prefix = tally.make_tmpdir("tally-edge-")
    proc = None
    try:
        run_install(d)
        os.symlink(d + "/usr/lib/nginx/modules", prefix + "/modules")
        spool = prefix + "/spool"
        os.makedirs(spool)
        os.chown(spool, *tally.worker_ids())
        shutil.copytree(os.path.join(tally.ROOT, "demo"), prefix + "/demo")
        port = tally.free_port()
        conf = read("nginx-edge.conf")
        mapping = [
            ("user www-data;", "daemon off;"),
            ("pid /run/nginx.pid;", f"pid {prefix}/nginx.pid;"),
            ("error_log /dev/stderr notice;", f"error_log {prefix}/error.log info;"),
            ("include /etc/nginx/modules-enabled/*.conf;",
             f"include {d}/etc/nginx/modules-enabled/*.conf;"),
            ("tally_spool /var/spool/tally;", f"tally_spool {spool};"),
            ("listen 8080;", f"listen 127.0.0.1:{port};"),
            ("root /usr/share/tally/demo;", f"root {prefix}/demo;"),
            ("/usr/share/tally/", f"{d}{PREFIX}/share/tally/"),
            ("http {", f"http {{ client_body_temp_path {prefix}/body;"),
        ]
        for old, new in mapping:
            assert old in conf, old
            conf = conf.replace(old, new)
        with open(prefix + "/nginx.conf", "w") as f:
            f.write(conf)
        proc = subprocess.Popen([tally.NGINX, "-p", prefix, "-c",
                                 prefix + "/nginx.conf"],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        tally.wait_until(lambda: tally.port_open(port) or proc.poll() is not None,
                         what="nginx to listen")
        assert proc.poll() is None, proc.stderr.read().decode()
        tally.wait_until(lambda: tally.segment_sizes(spool), what="a segment")

        r = health("OPTIONS", port, "/api/event")
        assert r.returncode == 0, r.stderr
        st, _, _ = tally.request(port, "POST", "/api/event",
                                 {"name": "pageview", "url": "http://demo.local/",
                                  "domain": "demo.local"},
                                 {"Content-Type": "text/plain", "User-Agent": UA})
        assert st == 202
        st, h, body = tally.request(port, "GET", "/tally.js")
        assert st == 200 and "javascript" in h["content-type"]
        assert body == open(os.path.join(tally.ROOT, "build", "tally.js"), "rb").read()
        st, _, body = tally.request(port, "GET", "/")
        assert st == 200
        assert body == open(os.path.join(tally.ROOT, "demo", "index.html"), "rb").read()
        assert health("GET", port, "/nonexistent").returncode == 1   # 404

        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=10)
        r = health("OPTIONS", port, "/api/event")
        assert r.returncode == 1 and "unhealthy" in r.stderr
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        tally.rmtree(prefix)
        tally.rmtree(d)


def test_tallyd_entrypoint_creates_key_once():
    work = tally.make_tmpdir("tally-entry-")
    spool = os.path.join(work, "spool")
    os.makedirs(spool)
    port = tally.free_port()
    env = dict(os.environ, TALLYD=tally.TALLYD, TALLY_SPOOL=spool,
               TALLY_DB=os.path.join(work, "tally.db"),
               TALLY_LISTEN=f"127.0.0.1:{port}", TALLY_KEY_NAME="entry")
    entry = os.path.join(DOCKER, "tallyd-entrypoint.sh")

    def start():
        log = open(os.path.join(work, "log"), "w")
        p = subprocess.Popen([entry], env=env, stdout=log,
                             stderr=subprocess.STDOUT)
        tally.wait_until(lambda: health("GET", port, "/health").returncode == 0
                         or p.poll() is not None, what="tallyd /health")
        procs.append(p)
        assert p.poll() is None, open(os.path.join(work, "log")).read()
        return p

    procs = []

    def stop(p):
        p.send_signal(signal.SIGTERM)     # exec'd: tallyd itself gets it
        assert p.wait(timeout=15) == 0

    try:
        p = start()
        out = open(os.path.join(work, "log")).read()
        keys = re.findall(r"^  (tly_\S+)$", out, re.M)
        assert len(keys) == 1, out
        q = {"site_id": "demo.local", "metrics": ["visitors"], "date_range": "day"}
        hdr = {"Content-Type": "application/json"}
        # accepted: 200, or 404 because the site has no event yet -- not 401
        st, _, body = tally.request(port, "POST", "/api/v2/query", q,
                                    dict(hdr, Authorization=f"Bearer {keys[0]}"))
        assert st == 200 or (st == 404 and b"Site does not exist" in body), (st, body)
        st, _, _ = tally.request(port, "POST", "/api/v2/query", q,
                                 dict(hdr, Authorization="Bearer tly_wrong"))
        assert st == 401
        stop(p)

        p = start()                       # second start: no new key
        out = open(os.path.join(work, "log")).read()
        assert "tly_" not in out and "created API key" not in out, out
        stop(p)
        r = subprocess.run([tally.TALLYD, "keys", "list", "--db", env["TALLY_DB"]],
                           capture_output=True, text=True, check=True)
        assert len(r.stdout.strip().splitlines()) == 2, r.stdout  # header + 1

        r = subprocess.run([entry, "--help"], env=env, capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0 and "Usage: tallyd" in r.stdout
    finally:
        for p in procs:                   # a failed check leaves none running
            if p.poll() is None:
                p.kill()
                p.wait()
        tally.rmtree(work)
