"""The Debian package (debian/): built from a copy of the tree with
dpkg-buildpackage as Debian 12 builds packages, clean under lintian, and
holding what an operator needs: the programs, every manual, the hardened
systemd units, the config as a conffile, the postline user's scripts.
Where systemd runs (and POSTLINE_TEST_SYSTEMD=1 allows installing the
package on this machine), its units start the daemons in order."""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import SOURCE, Skip, get, main

PROGRAMS = ["usr/sbin/ingest", "usr/sbin/matcher", "usr/sbin/firer",
            "usr/bin/logview", "usr/bin/report"]
MANUALS = ["usr/share/man/man8/ingest.8.gz", "usr/share/man/man8/matcher.8.gz",
           "usr/share/man/man8/firer.8.gz", "usr/share/man/man1/logview.1.gz",
           "usr/share/man/man1/report.1.gz",
           "usr/share/man/man5/postline.conf.5.gz",
           "usr/share/man/man7/postline.7.gz"]
UNITS = "lib/systemd/system"
CONF = "/etc/postline/postline.conf"
HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
             "ProtectHome=yes", "StateDirectory=postline",
             "ReadWritePaths=/var/lib/postline", "User=postline"]

built = {}		# the package, built once for every test


def run(argv, cwd=None, timeout=600):
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def copy_tree(dest):
    """The tree's files (tracked and new, not the build directories)."""
    rc, out = run(["git", "-C", SOURCE, "ls-files", "-co",
                   "--exclude-standard", "-z"])
    if rc != 0:
        shutil.copytree(SOURCE, dest, ignore=shutil.ignore_patterns(
            "build*", "obj-*", ".git"))
        return
    for name in out.split("\0"):
        if name and os.path.isfile(os.path.join(SOURCE, name)):
            os.makedirs(os.path.dirname(os.path.join(dest, name)),
                        exist_ok=True)
            shutil.copy2(os.path.join(SOURCE, name), os.path.join(dest, name))


def package():
    """Build the package once: (top directory, .deb, extracted tree)."""
    if built:
        return built["top"], built["deb"], built["root"]
    for tool in ("dpkg-buildpackage", "dh", "lintian"):
        if shutil.which(tool) is None:
            raise Skip("%s is missing (./run test installs dpkg-dev, "
                       "debhelper and lintian)" % tool)
    top = tempfile.mkdtemp(prefix="postline-package-")
    src = os.path.join(top, "postline")
    copy_tree(src)
    rc, out = run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=src)
    assert rc == 0, out[-4000:]
    debs = glob.glob(os.path.join(top, "postline_*.deb"))
    assert len(debs) == 1, os.listdir(top)
    root = os.path.join(top, "root")
    rc, out = run(["dpkg-deb", "-x", debs[0], root])
    assert rc == 0, out
    built.update(top=top, deb=debs[0], root=root)
    return top, debs[0], root


def test_package_builds_and_lintian_is_clean():
    top, deb, _ = package()
    changes = glob.glob(os.path.join(top, "postline_*.changes"))
    rc, out = run(["lintian", "--fail-on", "error,warning", "--pedantic",
                   changes[0]])
    tags = [line for line in out.splitlines()
            if re.match(r"[EWIPX]: ", line)]
    assert rc == 0 and not tags, out


def test_package_holds_what_an_operator_needs():
    _, deb, root = package()
    for path in PROGRAMS:
        assert os.access(os.path.join(root, path), os.X_OK), path
    for path in MANUALS:
        assert os.path.isfile(os.path.join(root, path)), path
    rc, out = run(["dpkg-deb", "-f", deb, "Depends"])
    assert "adduser" in out, out
    rc, conffiles = run(["dpkg-deb", "--info", deb, "conffiles"])
    assert conffiles.split() == [CONF], conffiles
    rc, postinst = run(["dpkg-deb", "--info", deb, "postinst"])
    assert "adduser --system --group" in postinst, postinst
    assert "dpkg-statoverride --update --add postline postline 0750 " \
        "\\\n\t\t    /var/lib/postline" in postinst, postinst
    # The packaged config is valid, read by the packaged ingest.
    rc, out = run([os.path.join(root, "usr/sbin/ingest"), "-n", "-f",
                   os.path.join(root, CONF.lstrip("/"))])
    assert rc == 0, out
    with open(os.path.join(root, CONF.lstrip("/"))) as f:
        assert "data-dir /var/lib/postline\n" in f.read()


def test_units_are_hardened_and_valid():
    _, _, root = package()
    units = os.path.join(root, UNITS)
    assert sorted(os.listdir(units)) == [
        "firer@.service", "ingest@.service", "matcher@.service",
        "postline.target"]
    for daemon in ("ingest", "matcher", "firer"):
        with open(os.path.join(units, daemon + "@.service")) as f:
            text = f.read()
        assert "ExecStart=/usr/sbin/%s -d -f %s -s %%i\n" % (
            daemon, CONF) in text, text
        for line in HARDENING:
            assert line + "\n" in text, (daemon, line)
        assert "WantedBy=postline.target" in text
    if shutil.which("systemd-analyze") is None:
        return
    # Offline: every complaint but the programs not installed here.
    rc, out = run(["systemd-analyze", "verify", "--man=no",
                   "ingest@0.service", "matcher@0.service",
                   "firer@0.service", "postline.target"], cwd=units)
    rest = [line for line in out.splitlines() if not re.match(
        r"\w+@0\.service: Command /usr/sbin/\w+ is not executable", line)]
    assert not rest, out


def systemd_running():
    if not os.path.isdir("/run/systemd/system"):
        with open("/proc/1/comm") as f:
            raise Skip("systemd is not running here (PID 1 is %s)" %
                       f.read().strip())
    if os.environ.get("POSTLINE_TEST_SYSTEMD") != "1":
        raise Skip("installing the package on this machine needs "
                   "POSTLINE_TEST_SYSTEMD=1")
    if os.geteuid() != 0:
        raise Skip("installing the package needs root")


def active_since(unit):
    rc, out = run(["systemctl", "show", "-p",
                   "ActiveEnterTimestampMonotonic", "--value", unit])
    return int(out.strip() or 0)


def test_installed_units_start_in_order():
    systemd_running()
    _, deb, _ = package()
    rc, out = run(["dpkg", "-i", deb])
    assert rc == 0, out
    units = ["firer@0.service", "matcher@0.service", "ingest@0.service"]
    try:
        rc, out = run(["systemctl", "enable"] + units + ["postline.target"])
        assert rc == 0, out
        rc, out = run(["systemctl", "start", "postline.target"])
        assert rc == 0, out
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                status, _, body = get("http://127.0.0.1:8080/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("ingest@0 never answered /healthz")
        times = [active_since(u) for u in units]
        assert 0 < times[0] <= times[1] <= times[2], times
    finally:
        run(["systemctl", "stop", "postline.target"] + units)
        run(["systemctl", "disable"] + units + ["postline.target"])
        run(["dpkg", "--purge", "postline"])


def cleanup():
    if built:
        shutil.rmtree(built["top"], ignore_errors=True)


if __name__ == "__main__":
    try:
        main([test_package_builds_and_lintian_is_clean,
              test_package_holds_what_an_operator_needs,
              test_units_are_hardened_and_valid,
              test_installed_units_start_in_order])
    finally:
        cleanup()
