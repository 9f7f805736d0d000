"""`make install` / `make uninstall` (tools/install.sh) into a DESTDIR, on
the artifacts `make build` produced: every file in place with its mode, the
Debian module load file resolving inside DESTDIR, the real nginx loading the
INSTALLED module through the INSTALLED modules-enabled symlink and taking a
beacon, the installed tallyd draining it with the installed config file, the
systemd units verified, and uninstall removing exactly what was installed."""

import configparser
import filecmp
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess

import pytest

import tally

INSTALL = os.path.join(tally.ROOT, "tools", "install.sh")
BUILD = os.path.join(tally.ROOT, "build")
PREFIX = "/usr/local"
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
      "Gecko) Chrome/120.0 Safari/537.36")


def run_install(destdir, *args, env_extra=None, check=True, user=None):
    env = dict(os.environ, DESTDIR=destdir, PREFIX=PREFIX,
               TALLY_BIN=tally.BIN_DIR, TALLY_MODULE=tally.MODULE)
    if env_extra:
        env.update(env_extra)
    cmd = ["bash", INSTALL, *args]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"install.sh {args} failed ({r.returncode}):\n"
                             f"{r.stdout}{r.stderr}")
    return r


def tree(destdir):
    """Every path under destdir (relative, '/'-rooted) -> 'd', 'f' or 'l'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(destdir):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = "/" + os.path.relpath(p, destdir)
            out[rel] = ("l" if os.path.islink(p) else
                        "d" if os.path.isdir(p) else "f")
    return out


def expected_files():
    """Installed path -> (source file or None, mode)."""
    share = PREFIX + "/share/tally"
    exp = {
        "/usr/lib/nginx/modules/ngx_http_tally_module.so": (tally.MODULE, 0o644),
        "/usr/share/nginx/modules-available/mod-http-tally.conf":
            (os.path.join(tally.ROOT, "dist", "mod-http-tally.conf"), 0o644),
        PREFIX + "/bin/tallyd": (tally.TALLYD, 0o755),
        share + "/tally.js": (os.path.join(BUILD, "tally.js"), 0o644),
        share + "/examples/ship.env":
            (os.path.join(tally.ROOT, "dist", "ship.env.example"), 0o644),
        "/lib/systemd/system/tallyd.service": (None, 0o644),
        "/lib/systemd/system/tally-ship@.service": (None, 0o644),
        "/etc/tally/tallyd.conf":
            (os.path.join(tally.ROOT, "dist", "tallyd.conf"), 0o644),
        share + "/install-manifest": (None, 0o644),
    }
    for f in glob.glob(os.path.join(BUILD, "data", "*.json")):
        exp[share + "/data/" + os.path.basename(f)] = (f, 0o644)
    for f in glob.glob(os.path.join(tally.ROOT, "conf.d", "*.conf")):
        exp[share + "/conf.d/" + os.path.basename(f)] = (f, 0o644)
    dash = os.path.join(BUILD, "dashboard")
    for dirpath, _, names in os.walk(dash):
        for n in names:
            f = os.path.join(dirpath, n)
            exp[share + "/dashboard/" + os.path.relpath(f, dash)] = (f, 0o644)
    return exp


@pytest.fixture(scope="module")
def installed():
    d = tally.make_tmpdir("tally-destdir-")
    r = run_install(d)
    yield d, r
    tally.rmtree(d)


def test_files_and_modes(installed):
    d, _ = installed
    exp = expected_files()
    assert len([p for p in exp if p.endswith(".json")]) >= 2
    for path, (src, mode) in exp.items():
        full = d + path
        assert os.path.isfile(full) and not os.path.islink(full), path
        assert os.stat(full).st_mode & 0o7777 == mode, \
            (path, oct(os.stat(full).st_mode & 0o7777))
        if src:
            assert filecmp.cmp(src, full, shallow=False), path
    dirs = {"/var/spool/tally": 0o2770, "/var/lib/tally": 0o750,
            "/etc/tally": 0o755}
    for path, mode in dirs.items():
        st = os.stat(d + path)
        assert st.st_mode & 0o7777 == mode, (path, oct(st.st_mode))
    # nothing else was installed: every regular file is an expected one
    files = {p for p, t in tree(d).items() if t == "f"}
    assert files == set(exp), files ^ set(exp)


def test_units_have_the_install_paths(installed):
    d, _ = installed
    unit = open(d + "/lib/systemd/system/tallyd.service").read()
    assert not re.search(r"@[A-Z]+@", unit), unit
    assert (f"ExecStart={PREFIX}/bin/tallyd serve --config "
            "/etc/tally/tallyd.conf") in unit
    ship = open(d + "/lib/systemd/system/tally-ship@.service").read()
    assert "@BINDIR@" not in ship and "@PREFIX@" not in ship
    assert re.search(rf"^ExecStart={PREFIX}/bin/tallyd ship --spool "
                     r"/var/spool/tally --redis \$\{TALLY_REDIS\} --edge %i",
                     ship, re.M)


def test_module_load_file_resolves_inside_destdir(installed):
    d, _ = installed
    # Debian's nginx: prefix /usr/share/nginx, modules in /usr/lib/nginx/modules
    # (nginx-common links /usr/share/nginx/modules there), which is what the
    # relative path in the load file relies on
    v = subprocess.run([tally.NGINX, "-V"], capture_output=True,
                       text=True).stderr
    assert "--prefix=/usr/share/nginx" in v
    assert "--modules-path=/usr/lib/nginx/modules" in v
    link = d + "/etc/nginx/modules-enabled/50-mod-http-tally.conf"
    assert os.path.islink(link)
    assert not os.readlink(link).startswith("/")
    assert os.path.realpath(link) == os.path.realpath(
        d + "/usr/share/nginx/modules-available/mod-http-tally.conf")
    m = re.fullmatch(r"load_module (modules/[^;\s]+);\n", open(link).read())
    assert m, open(link).read()
    so = d + "/usr/lib/nginx/" + m.group(1)
    assert filecmp.cmp(so, tally.MODULE, shallow=False)


def test_systemd_units_verify(installed, tmp_path):
    d, _ = installed
    units = {"tallyd.service": "tallyd.service",
             "tally-ship@.service": "tally-ship@edge1.service"}
    for src, name in units.items():
        text = open(os.path.join(d, "lib/systemd/system", src)).read()
        for key in ("User=tally", "DynamicUser=no", "ProtectSystem=strict",
                    "NoNewPrivileges=yes", "PrivateTmp=yes",
                    "ReadWritePaths=", "/var/spool/tally"):
            assert key in text, (src, key)
        exe = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
        assert os.access(d + exe, os.X_OK), exe
        # verify against the DESTDIR copy of the binary
        (tmp_path / name).write_text(text.replace(exe, d + exe))
        if shutil.which("systemd-analyze"):
            r = subprocess.run(["systemd-analyze", "verify",
                                str(tmp_path / name)],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            assert not re.search(r"Unknown|ignoring|bad-setting|Invalid",
                                 r.stderr), r.stderr
        else:
            cp = configparser.ConfigParser(strict=False, interpolation=None)
            cp.optionxform = str
            cp.read_string(text)
            assert set(cp.sections()) == {"Unit", "Service", "Install"}
            assert cp["Install"]["WantedBy"] == "multi-user.target"


def test_installed_tallyd_runs(installed):
    d, _ = installed
    r = subprocess.run([d + PREFIX + "/bin/tallyd", "--help"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "Usage: tallyd" in r.stdout


def test_nginx_loads_installed_module_and_tallyd_drains(installed):
    """The real nginx, configured the Debian way: include
    modules-enabled/*.conf (the INSTALLED symlink and load file), the
    relative load_module path resolved against a prefix whose modules/ link
    points into DESTDIR (as /usr/share/nginx/modules does on Debian), and the
    INSTALLED conf.d snippet.  Then the INSTALLED tallyd with the INSTALLED
    config file (paths overridden by flags) drains the beacon."""
    d, _ = installed
    prefix = tally.make_tmpdir("tally-pkg-nginx-")
    os.symlink(d + "/usr/lib/nginx/modules", os.path.join(prefix, "modules"))
    spool = os.path.join(prefix, "spool")
    os.makedirs(spool)
    os.chown(spool, *tally.worker_ids())
    for sub in ("logs", "tmp"):
        os.makedirs(os.path.join(prefix, sub))
    port = tally.free_port()
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
include {d}/etc/nginx/modules-enabled/*.conf;
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    tally_spool {spool};
    server {{
        listen 127.0.0.1:{port};
        include {d}{PREFIX}/share/tally/conf.d/tally.conf;
    }}
}}
""")
    ngx = subprocess.Popen([tally.NGINX, "-p", prefix, "-c", conf],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    agg = None
    workdir = tally.make_tmpdir("tally-pkg-agg-")
    try:
        tally.wait_until(lambda: tally.port_open(port) or ngx.poll() is not None,
                         what="nginx to listen")
        assert ngx.poll() is None, ngx.stderr.read().decode()
        tally.wait_until(lambda: tally.segment_sizes(spool), what="a segment")
        st, _, body = tally.request(
            port, "POST", "/api/event",
            {"name": "pageview", "url": "https://pkg.example/",
             "domain": "pkg.example"},
            {"Content-Type": "application/json", "User-Agent": UA})
        assert st == 202, (st, body)
        assert sum(tally.segment_sizes(spool).values()) > 0

        tallyd = d + PREFIX + "/bin/tallyd"
        db = os.path.join(workdir, "tally.db")
        r = subprocess.run([tallyd, "keys", "add", "--db", db, "--name", "pkg"],
                           capture_output=True, text=True, check=True)
        key = r.stdout.strip().splitlines()[-1]
        api = tally.free_port()
        log = open(os.path.join(workdir, "tallyd.log"), "wb")
        agg = subprocess.Popen(
            [tallyd, "serve", "--config", d + "/etc/tally/tallyd.conf",
             "--spool", spool, "--db", db, "--listen", f"127.0.0.1:{api}"],
            stdout=log, stderr=subprocess.STDOUT)
        q = {"site_id": "pkg.example", "metrics": ["visitors", "pageviews"],
             "date_range": "day"}

        def counted():
            if agg.poll() is not None:
                raise AssertionError("tallyd exited: " + open(
                    os.path.join(workdir, "tallyd.log")).read())
            st, _, b = tally.request(api, "POST", "/api/v2/query", q, {
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json"})
            return st == 200 and b'"metrics":[1,1]' in b.replace(b" ", b"")
        tally.wait_until(counted, what="the beacon in the Stats API")
    finally:
        if agg:
            agg.send_signal(signal.SIGTERM)
            agg.wait(timeout=15)
        ngx.send_signal(signal.SIGQUIT)
        try:
            ngx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ngx.kill()
            ngx.wait()
        tally.rmtree(prefix)
        tally.rmtree(workdir)


def test_uninstall_removes_exactly_what_was_installed():
    d = tally.make_tmpdir("tally-destdir-")
    try:
        # something that was there before must survive
        os.makedirs(d + "/etc/nginx/modules-enabled")
        keep = d + "/etc/nginx/modules-enabled/50-mod-http-other.conf"
        os.symlink("/nonexistent", keep)
        before = tree(d)
        run_install(d)
        assert len(tree(d)) > len(before) + 20
        r = run_install(d, "--uninstall")
        assert tree(d) == before, (r.stdout, set(tree(d)) ^ set(before))
        r = run_install(d, "--uninstall", check=False)
        assert r.returncode == 1 and "no manifest" in r.stderr
    finally:
        tally.rmtree(d)


def test_upgrade_keeps_config_data_and_a_disabled_module():
    d = tally.make_tmpdir("tally-destdir-")
    try:
        run_install(d)
        conf = d + "/etc/tally/tallyd.conf"
        with open(conf, "a") as f:
            f.write("poll-ms = 100\n")
        changed = open(conf).read()
        with open(d + "/var/lib/tally/tally.db", "w") as f:
            f.write("data")
        link = d + "/etc/nginx/modules-enabled/50-mod-http-tally.conf"
        os.unlink(link)                       # the admin disables the module
        # a file an older version installed and this one does not
        stale = d + PREFIX + "/share/tally/old.js"
        open(stale, "w").close()
        with open(d + PREFIX + "/share/tally/install-manifest", "a") as f:
            f.write(f"f\t{PREFIX}/share/tally/old.js\n")

        r = run_install(d)
        assert open(conf).read() == changed
        assert "keeping existing /etc/tally/tallyd.conf" in r.stdout
        assert not os.path.lexists(link), "re-enabled a disabled module"
        assert not os.path.exists(stale)
        r = run_install(d)                    # and again: still disabled
        assert not os.path.lexists(link)

        r = run_install(d, "--uninstall")
        left = {p for p, t in tree(d).items() if t != "d"}
        assert left == {"/etc/tally/tallyd.conf", "/var/lib/tally/tally.db"}, left
        assert "keeping /etc/tally/tallyd.conf" in r.stdout
        assert "keeping /var/lib/tally" in r.stdout
    finally:
        tally.rmtree(d)


def test_config_checksum_in_manifest(installed):
    d, _ = installed
    man = open(d + PREFIX + "/share/tally/install-manifest").read()
    digest = hashlib.sha256(open(d + "/etc/tally/tallyd.conf", "rb").read()).hexdigest()
    assert f"c\t/etc/tally/tallyd.conf\t{digest}\n" in man


def test_missing_artifact_fails_clearly_and_installs_nothing():
    d = tally.make_tmpdir("tally-destdir-")
    try:
        r = run_install(d, env_extra={"TALLY_MODULE": "/nonexistent/x.so"},
                        check=False)
        assert r.returncode == 1
        assert "/nonexistent/x.so" in r.stderr and "make build" in r.stderr
        assert tree(d) == {}
    finally:
        tally.rmtree(d)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_live_install_as_non_root_is_refused():
    r = run_install("", user="nobody", check=False)
    assert r.returncode == 1 and "needs root" in r.stderr
