"""Scale-out on separate network hosts: two ingests, two matcher shards,
two firers and the affiliate's receiver, each in its own network
namespace on a private bridge (10.77.0.0/24), with the test's HTTP client
on a host of its own.

Needs root and ip(8) (iproute2).  Without them the test says why and
exits 77, which meson counts as skipped (never as passed).

Nothing is routed to the outside: the bridge lives in a namespace of its
own, the hosts have no default route, and the root namespace is not
touched.  Every namespace and process is removed whatever happens.
"""

import concurrent.futures
import ctypes
import http.server
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from harness import ListenServer, http_request, kv, main, program, verbose

SKIP = 77
GLOBAL = "nstoken123"
SUBNET = "10.77.0.%d"
RECV_PORT = 8090
TAG = "plnet%d" % os.getpid()

# host name -> last octet of its address
HOSTS = {
    "ingest0": 11, "ingest1": 12,
    "matcher0": 21, "matcher1": 22,
    "firer0": 31, "firer1": 32,
    "recv": 40, "client": 50,
}
CLONE_NEWNET = 0x40000000


def addr(host):
    return SUBNET % HOSTS[host]


def ns_name(host):
    return "%s-%s" % (TAG, host)


def ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True,
                       timeout=20)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def skip(reason):
    print("SKIP: %s" % reason)
    sys.stdout.flush()
    sys.exit(SKIP)


def check_can_run():
    if os.geteuid() != 0:
        skip("network namespaces need root (euid is %d)" % os.geteuid())
    if shutil.which("ip") is None:
        skip("ip(8) not found: install iproute2")
    probe = "%s-probe" % TAG
    p = ip("netns", "add", probe, check=False)
    if p.returncode != 0:
        skip("cannot make a network namespace: %s" % p.stderr.strip())
    ip("netns", "del", probe, check=False)


class Network:
    """A bridge in a namespace of its own, one veth to each host."""

    def __init__(self):
        self.made = []
        self.switch = "%s-sw" % TAG

    def add_ns(self, name):
        ip("netns", "add", name)
        self.made.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def build(self):
        self.add_ns(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for host in HOSTS:
            ns = ns_name(host)
            self.add_ns(ns)
            port = "v-" + host
            ip("-n", self.switch, "link", "add", port, "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            ip("-n", self.switch, "link", "set", port, "master", "br0")
            ip("-n", self.switch, "link", "set", port, "up")
            ip("-n", ns, "addr", "add", addr(host) + "/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def destroy(self):
        for name in reversed(self.made):
            ip("netns", "del", name, check=False)
        self.made = []


_libc = ctypes.CDLL(None, use_errno=True)


def enter_ns(host):
    """Move the calling thread (only) into a host's network namespace:
    sockets it makes from now on live there."""
    fd = os.open("/run/netns/" + ns_name(host), os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (host, os.strerror(e)))
    finally:
        os.close(fd)


def in_ns(host, fn, *args):
    """Run fn(*args) in a thread inside host's namespace; return its
    result."""
    out = {}

    def body():
        try:
            enter_ns(host)
            out["value"] = fn(*args)
        except BaseException as e:  # handed to the caller
            out["error"] = e
    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


class Receiver:
    """The affiliate's endpoint on the recv host: records every request."""

    def __init__(self):
        self.requests = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                entry = {
                    "path": url.path,
                    "query": urllib.parse.parse_qs(url.query),
                    "peer": self.client_address[0],
                    "headers": {k.lower(): v
                                for k, v in self.headers.items()},
                }
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")
                with receiver.cond:
                    receiver.requests.append(entry)
                    receiver.cond.notify_all()

            def log_message(self, *args):
                pass

        # The listening socket is made inside the recv namespace; the
        # thread that serves it may live anywhere.
        self.server = in_ns("recv", ListenServer,
                            (addr("recv"), RECV_PORT), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://%s:%d%s" % (addr("recv"), RECV_PORT, path)

    def wait_until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("receiver: %s; got %d requests" %
                                         (what, len(self.requests)))
                self.cond.wait(left)
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Hosts:
    """The daemons, each started inside its host's namespace."""

    def __init__(self, dir_, conf):
        self.dir = dir_
        self.conf = conf
        self.procs = {}

    def log_path(self, key):
        return os.path.join(self.dir, key + ".log")

    def log_text(self, key):
        with open(self.log_path(key), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def start(self, name, n):
        key = "%s%d" % (name, n)
        path = self.log_path(key)
        before = 0
        if os.path.exists(path):
            before = self.log_text(key).count("event=ready")
        with open(path, "ab") as log:
            # ip netns exec execs the program itself: proc.pid is the
            # daemon's, and a signal to it reaches the daemon.
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns_name(key), program(name),
                 "-d", "-f", self.conf, "-s", str(n)] + verbose(name),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.procs[key] = proc
        deadline = time.monotonic() + 20
        while self.log_text(key).count("event=ready") <= before:
            if proc.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" % (
                    key, proc.returncode, self.log_text(key)))
            if time.monotonic() > deadline:
                raise AssertionError("%s never ready:\n%s" % (
                    key, self.log_text(key)))
            time.sleep(0.02)
        return proc

    def kill9(self, key):
        proc = self.procs.pop(key)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)

    def stop_all(self):
        statuses = {}
        for key, proc in list(self.procs.items()):
            proc.send_signal(signal.SIGTERM)
        for key, proc in list(self.procs.items()):
            try:
                statuses[key] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                statuses[key] = "hung"
            del self.procs[key]
        return statuses

    def kill_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.procs = {}


def config(dir_, recv):
    return "\n".join([
        "data-dir %s/data" % dir_,
        "ingest listen 0.0.0.0:8080",
        "matcher endpoint tcp://%s:7701" % addr("matcher0"),
        "matcher endpoint tcp://%s:7701" % addr("matcher1"),
        "firer endpoint tcp://%s:7702" % addr("firer0"),
        "firer endpoint tcp://%s:7702" % addr("firer1"),
        "global-token %s" % GLOBAL,
        'offer o1 url "%s"' % recv.url("/landing?tx={transaction_id}"),
        'postback aff on conversion status approved url "%s"' %
        recv.url("/pb?tx={transaction_id}&pid={postback_id}&n={attempt}"
                 "&pub={publisher}"),
    ]) + "\n"


def shard_of(tx):
    return int(tx[9:11], 36) % 2


def firer_of(tx):
    """txid_firer() of common/txid.c: FNV-1a 64 of the id, modulo."""
    h = 0xcbf29ce484222325
    for ch in tx.encode():
        h = ((h ^ ch) * 0x100000001b3) & 0xffffffffffffffff
    return h % 2


def flow(i):
    """One user and advertiser: a click through ingest i%2, then its
    conversion through the other ingest.  Runs on the client host."""
    a, b = addr("ingest%d" % (i % 2)), addr("ingest%d" % ((i + 1) % 2))
    # Each its own browser: ingest sends the clicks of one offer, IP and
    # User-Agent to one shard.
    status, headers, body = http_request(
        "GET", "http://%s:8080/click?offer_id=o1&publisher=p%d" % (a, i),
        headers={"User-Agent": "browser-%d" % i})
    assert status == 302, ("click", i, status, body)
    loc = urllib.parse.urlsplit(headers["location"])
    tx = urllib.parse.parse_qs(loc.query)["tx"][0]
    # An advertiser retries anything but a 2xx: it means "not stored".
    for _ in range(10):
        status, _, body = http_request(
            "GET", "http://%s:8080/postback?secure=%s&transaction_id=%s"
            % (b, GLOBAL, tx))
        if status in (200, 202):
            break
        time.sleep(0.3)
    return tx, status, kv(body), body


def run_flows(pool, first, count, gap=0.0):
    """Start flows first.., one every gap seconds, from a thread of its
    own; return their futures at once (the list fills as they start)."""
    futures = []

    def submit():
        for i in range(first, first + count):
            futures.append(pool.submit(flow, i))
            time.sleep(gap)
    t = threading.Thread(target=submit, daemon=True)
    t.start()
    if not gap:
        t.join()
    return futures, t


def check_verdict(result):
    tx, status, verdict, body = result
    assert status in (200, 202), (tx, status, body)
    if status == 200:
        assert verdict == {"result": "approved", "transaction_id": tx}, body
    else:
        assert verdict.get("result") == "accepted", body
    return tx


def test_scale_out_on_separate_hosts():
    net = Network()
    dir_ = tempfile.mkdtemp(prefix="postline-netns-")
    hosts = None
    recv = None
    pool = None
    ok = False
    try:
        net.build()
        recv = Receiver()
        conf = os.path.join(dir_, "postline.conf")
        with open(conf, "w") as f:
            f.write(config(dir_, recv))
        hosts = Hosts(dir_, conf)
        for name in ("matcher", "firer", "ingest"):
            for n in (0, 1):
                hosts.start(name, n)

        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=8, initializer=enter_ns, initargs=("client",))

        # Phase 1: all hosts up.
        futures, _ = run_flows(pool, 0, 40)
        results = [f.result(timeout=30) for f in futures]

        # Phase 2: shard 1's host loses its matcher (kill -9) in the middle
        # of the traffic, and it comes back.
        futures, submitter = run_flows(pool, 40, 60, gap=0.03)
        while sum(f.done() for f in list(futures)) < 15:
            time.sleep(0.01)
        hosts.kill9("matcher1")
        killed_at = len(recv.requests)
        done_at_kill = sum(f.done() for f in list(futures))
        time.sleep(1.0)
        hosts.start("matcher", 1)
        submitter.join(timeout=30)
        assert len(futures) == 60, len(futures)
        results += [f.result(timeout=40) for f in futures]
        late = sum(1 for f in futures if f.result()[1] == 202)
        txs = [check_verdict(r) for r in results]
        assert len(set(txs)) == len(txs) == 100, "ids repeat"
        assert done_at_kill < 60 and killed_at < 100, \
            "the kill came after the traffic"

        # Every conversion reaches the affiliate: one delivery each, which
        # may have been sent more than once but always with one id.
        want = set(txs)
        got = recv.wait_until(
            lambda reqs: want <= {r["query"]["tx"][0] for r in reqs},
            timeout=40, what="a postback for each of %d conversions" %
            len(want))
        by_tx = {}
        for r in got:
            by_tx.setdefault(r["query"]["tx"][0], []).append(r)
        assert set(by_tx) == want, set(by_tx) ^ want
        for tx, reqs in by_tx.items():
            pids = {r["query"]["pid"][0] for r in reqs}
            assert len(pids) == 1, (tx, reqs)
            assert {r["headers"]["webhook-id"] for r in reqs} == pids
        # Each came from the firer host that owns the transaction.
        for tx, reqs in by_tx.items():
            owner = addr("firer%d" % firer_of(tx))
            assert {r["peer"] for r in reqs} == {owner}, (tx, reqs)

        # Both shards and both firers did the work that is theirs.
        for k in (0, 1):
            mine = [tx for tx in txs if shard_of(tx) == k]
            assert len(mine) >= 30, ("shard", k, len(mine))
            text = hosts.log_text("matcher%d" % k)
            missing = [tx for tx in mine if
                       "event=postback transaction_id=%s result=approved"
                       % tx not in text]
            assert not missing, ("matcher%d" % k, missing)
            others = [tx for tx in txs if shard_of(tx) != k and tx in text]
            assert not others, ("matcher%d saw another shard's" % k, others)
            assert "event=misrouted" not in text, text
            flog = hosts.log_text("firer%d" % k)
            fmine = [tx for tx in txs if firer_of(tx) == k]
            assert len(fmine) >= 20, ("firer", k, len(fmine))
            for tx in fmine:
                assert "transaction_id=%s" % tx in flog, ("firer%d" % k, tx)
                assert "transaction_id=%s" % tx not in hosts.log_text(
                    "firer%d" % (1 - k)), tx
            # An attempt is logged once its turn's outcomes are committed,
            # a moment after the receiver has the request.
            deadline = time.monotonic() + 10
            while flog.count("event=attempt ") < len(fmine):
                assert time.monotonic() < deadline, flog
                time.sleep(0.1)
                flog = hosts.log_text("firer%d" % k)
        assert hosts.log_text("matcher1").count("event=ready") == 2

        # The attempt logs of both firers, merged by logview.
        p = subprocess.run(
            [program("logview"), "-d", os.path.join(dir_, "data", "firer-0"),
             "-d", os.path.join(dir_, "data", "firer-1"),
             "--result", "ok", "--fields", "transaction_id"],
            capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, (p.returncode, p.stderr)
        assert set(p.stdout.split()) == want, p.stdout

        statuses = hosts.stop_all()
        assert all(s == 0 for s in statuses.values()), statuses
        print("  %d conversions (%d answered 202), %d requests at the "
              "receiver (%d before the kill), shard 0/1: %d/%d, "
              "firer 0/1: %d/%d" % (
                  len(txs), late, len(got), killed_at,
                  sum(shard_of(t) == 0 for t in txs),
                  sum(shard_of(t) == 1 for t in txs),
                  sum(firer_of(t) == 0 for t in txs),
                  sum(firer_of(t) == 1 for t in txs)))
        ok = True
    finally:
        # Daemons first: a client still waiting on one fails at once.
        if hosts is not None:
            hosts.kill_all()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if recv is not None:
            recv.close()
        net.destroy()
        if ok:
            shutil.rmtree(dir_, ignore_errors=True)
        else:
            print("test files kept in %s" % dir_)


def on_term(signo, frame):
    raise KeyboardInterrupt("signal %d" % signo)


if __name__ == "__main__":
    check_can_run()
    # A timeout's SIGTERM still runs the clean-up.
    signal.signal(signal.SIGTERM, on_term)
    main([test_scale_out_on_separate_hosts])
