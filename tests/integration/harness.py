"""Integration harness: real daemons on loopback, a real HTTP receiver.

Every test gets a Cluster: a temporary directory with a config, free
loopback ports and ipc:// sockets, the daemons started from the build
directory, and a Receiver that records the postbacks it is sent.  The
cluster stops everything it started, whatever happens.
"""

import http.client
import http.server
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

BUILD = os.environ.get("POSTLINE_BUILD", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("POSTLINE_SOURCE", os.path.join(
    os.path.dirname(__file__), "..", ".."))


def program(name):
    return os.path.join(BUILD, name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ListenServer(http.server.ThreadingHTTPServer):
    """The firer opens up to max-per-host connections at once; with
    socketserver's listen queue of 5 the kernel drops the rest, whose
    clients try again a second later."""
    request_queue_size = 1024
    daemon_threads = True


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request.

    status is a code, or a callable given the request's entry that
    returns a code, (code, headers) or (code, headers, body); body
    (bytes or str) is what every answer carries otherwise.
    """

    def __init__(self, status=200, body=b"ok\n"):
        self.requests = []
        self.status = status
        self.body = body
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                url = urllib.parse.urlsplit(self.path)
                entry = {
                    "method": self.command,
                    "path": url.path,
                    "query": urllib.parse.parse_qs(url.query,
                                                   keep_blank_values=True),
                    "raw_query": url.query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
                entry["time"] = time.monotonic()
                status = receiver.status
                if callable(status):
                    status = status(entry)
                extra = {}
                reply = receiver.body
                if isinstance(status, tuple) and len(status) == 3:
                    status, extra, reply = status
                elif isinstance(status, tuple):
                    status, extra = status
                if isinstance(reply, str):
                    reply = reply.encode("utf-8")
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                with receiver.cond:
                    receiver.requests.append(entry)
                    receiver.cond.notify_all()

            do_GET = handle_any
            do_POST = handle_any

            def log_message(self, *args):
                pass

        self.server = ListenServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path=""):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait_for(self, count, timeout=15):
        """Wait until count requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "receiver got %d requests, wanted %d" %
                        (len(self.requests), count))
                self.cond.wait(left)
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Cluster:
    """A config in a temporary directory and the daemons that run it."""

    def __init__(self, body, matchers=1, firers=1):
        self.dir = tempfile.mkdtemp(prefix="postline-test-")
        self.port = free_port()
        self.procs = {}
        self.logs = {}
        lines = [
            "data-dir %s/data" % self.dir,
            "ingest listen 127.0.0.1:%d" % self.port,
        ]
        for i in range(matchers):
            lines.append("matcher endpoint ipc://%s/matcher-%d.sock" %
                         (self.dir, i))
        for i in range(firers):
            lines.append("firer endpoint ipc://%s/firer-%d.sock" %
                         (self.dir, i))
        self.conf = os.path.join(self.dir, "postline.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + body + "\n")

    def edit_conf(self, old, new):
        """Change the config file in place (a daemon reads it on SIGHUP or
        at its next start)."""
        with open(self.conf) as f:
            text = f.read()
        assert old in text, old
        with open(self.conf, "w") as f:
            f.write(text.replace(old, new))

    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, name, instance=0, ready=True):
        key = "%s-%d" % (name, instance)
        path = os.path.join(self.dir, key + ".log")
        before = 0
        if os.path.exists(path):
            with open(path, "rb") as f:
                before = f.read().count(b"event=ready")
        log = open(path, "ab")
        # POSTLINE_WRAP runs each daemon under a tool (valgrind).
        wrap = shlex.split(os.environ.get("POSTLINE_WRAP", ""))
        proc = subprocess.Popen(
            wrap + [program(name), "-d", "-f", self.conf, "-s",
                    str(instance)] + verbose(name),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.procs[key] = proc
        self.logs[key] = os.path.join(self.dir, key + ".log")
        if ready:
            self.wait_log(key, "event=ready", proc=proc, count=before + 1)
        return proc

    def start_all(self):
        self.start("matcher")
        self.start("firer")
        self.start("ingest")

    def log_text(self, key):
        with open(self.logs[key], "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, key, needle, timeout=20, proc=None, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_text(key).count(needle) >= count:
                return
            if proc is not None and proc.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" %
                                     (key, proc.returncode,
                                      self.log_text(key)))
            time.sleep(0.02)
        raise AssertionError("%s never logged %r:\n%s" %
                             (key, needle, self.log_text(key)))

    def stop(self, name, instance=0, sig=signal.SIGTERM):
        """Stop one daemon; return its exit status."""
        key = "%s-%d" % (name, instance)
        proc = self.procs.pop(key)
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("%s did not stop on %s" % (key, sig))

    def stop_all(self):
        statuses = {}
        for key in list(self.procs):
            name, instance = key.rsplit("-", 1)
            statuses[key] = self.stop(name, int(instance))
        return statuses

    def kill_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.procs = {}

    def logview(self, *args):
        return run([program("logview")] + list(args))

    def firer_dir(self, instance=0):
        return os.path.join(self.dir, "data", "firer-%d" % instance)


def verbose(name):
    """The firer logs each delivery and success only with -v; tests wait
    for those lines."""
    return ["-v"] if name == "firer" else []


def run(argv, input=None, env=None):
    """Run a program; return (status, stdout, stderr) as text."""
    p = subprocess.run(argv, input=input, capture_output=True, env=env,
                       timeout=60)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def http_request(method, url, body=None, headers=None):
    """One request, redirects not followed: (status, headers, text)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    path = u.path + ("?" + u.query if u.query else "")
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read().decode("utf-8", "replace")
    result = (resp.status, {k.lower(): v for k, v in resp.getheaders()},
              data)
    conn.close()
    return result


def get(url, headers=None):
    return http_request("GET", url, headers=headers)


def metric(port, series):
    """The value of one series (name{labels}) of a daemon's /metrics."""
    body = get("http://127.0.0.1:%d/metrics" % port)[2]
    values = [float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
              if line.rsplit(" ", 1)[0] == series]
    assert len(values) == 1, (series, body)
    return values[0]


def post_form(url, fields):
    body = urllib.parse.urlencode(fields)
    return http_request("POST", url, body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})


def kv(text):
    """Parse a 'key=value key=value' answer line into a dict."""
    return dict(w.split("=", 1) for w in text.split() if "=" in w)


class Skip(Exception):
    """raise Skip("why"): the test cannot run on this machine.  It is
    reported as skipped with its reason, and does not fail the suite."""


def main(tests):
    """Run test functions; print one line each and a summary."""
    passed = failed = 0
    for test in tests:
        started = time.monotonic()
        try:
            test()
        except Skip as why:
            print("skip %s: %s" % (test.__name__, why))
            continue
        except Exception:
            failed += 1
            print("FAIL %s (%.1fs)" % (test.__name__,
                                       time.monotonic() - started))
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok   %s (%.1fs)" % (test.__name__,
                                       time.monotonic() - started))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


class cluster_of:
    """with cluster_of(conf) as c: ... -- always stops the daemons."""

    def __init__(self, body, **kw):
        self.cluster = Cluster(body, **kw)

    def __enter__(self):
        return self.cluster

    def __exit__(self, kind, value, tb):
        self.cluster.kill_all()
        if kind is None:
            shutil.rmtree(self.cluster.dir, ignore_errors=True)
        else:
            print("test files kept in %s" % self.cluster.dir)
        return False


def dump_json(obj):
    return json.dumps(obj, indent=1, default=str)
