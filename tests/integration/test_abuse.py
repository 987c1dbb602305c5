"""Hostile and broken peers: near-miss tokens, open redirects, 10,000
idle connections, receivers that hang or reset."""

import resource
import socket
import threading
import time

from harness import Receiver, cluster_of, get, kv, main

GOOD = "tok3nGood42"
CONF = "\n".join([
    "global-token " + GOOD,
    'offer o1 url "https://adv.example/land?c={transaction_id}'
    '&s={sub_id}&x={param.next}"',
])


def test_near_miss_tokens():
    with cluster_of(CONF) as c:
        c.start_all()
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = h["location"].split("c=")[1].split("&")[0]
        for bad in (GOOD[:-1], GOOD + "x", GOOD.upper(), GOOD[1:],
                    GOOD[:-1] + chr(ord(GOOD[-1]) + 1), "", "%20" + GOOD,
                    GOOD + "%00"):
            status, _, body = get(c.base() + "/postback?secure=%s"
                                  "&transaction_id=%s" % (bad, tx))
            assert status in (400, 403), (bad, status, body)
            assert "approved" not in body, (bad, body)
        status, _, body = get(c.base() + "/postback?secure=%s"
                              "&transaction_id=%s" % (GOOD, tx))
        assert kv(body)["result"] == "approved", body
        assert all(v == 0 for v in c.stop_all().values())


def test_no_open_redirect():
    with cluster_of(CONF) as c:
        c.start_all()
        for hostile in ("//evil.example/", "http://evil.example/",
                        "@evil.example", "%0d%0aLocation:%20http://evil",
                        "\\\\evil.example", "javascript:alert(1)"):
            status, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p"
                               "&sub_id=%s&next=%s" % (hostile, hostile))
            assert status == 302, status
            loc = h["location"]
            assert loc.startswith("https://adv.example/land?c="), loc
            assert "evil.example/" not in loc.split("?")[0], loc
            assert "\r" not in loc and "\n" not in loc, loc
        assert all(v == 0 for v in c.stop_all().values())


def test_ten_thousand_idle_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 11000:
        print("SKIP: RLIMIT_NOFILE hard limit %d is under 11000" % hard)
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with cluster_of(CONF) as c:
        c.start_all()
        idle = []
        try:
            for _ in range(10000):
                idle.append(socket.create_connection(("127.0.0.1", c.port)))
            for _ in range(20):
                status, _, _ = get(c.base() + "/click?offer_id=o1"
                                   "&publisher=p")
                assert status == 302, status
        finally:
            for s in idle:
                s.close()
        assert all(v == 0 for v in c.stop_all().values())
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Resetter:
    """Accepts connections and closes them at once (RST)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()


def test_hanging_and_resetting_receivers():
    """Deliveries to others go on; timeouts and resets are retried."""
    hang = threading.Event()

    def hanging(entry):
        hang.wait(20)
        return 200

    slow = Receiver(status=hanging)
    good = Receiver()
    reset = Resetter()
    body = "\n".join([
        "global-token g1",
        'offer o1 url "https://adv.example/?c={transaction_id}"',
        'postback hang on conversion timeout 1s retry 0,100ms url "%s"'
        % slow.url("/hang"),
        'postback reset on conversion retry 0,100ms '
        'url "http://127.0.0.1:%d/reset"' % reset.port,
        'postback good on conversion url "%s?t={transaction_id}"'
        % good.url("/good"),
    ])
    with cluster_of(body) as c:
        c.start_all()
        txs = []
        for _ in range(5):
            _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
            tx = h["location"].split("c=")[1]
            get(c.base() + "/postback?secure=g1&transaction_id=" + tx)
            txs.append(tx)
        started = time.monotonic()
        got = good.wait_for(5, timeout=10)
        assert time.monotonic() - started < 5, "held up by the others"
        assert sorted(r["query"]["t"][0] for r in got) == sorted(txs)
        for rule in ("hang", "reset"):
            c.wait_log("firer-0", "result=failed http_status=0 "
                       "transaction_id=%s rule=%s" % (txs[0], rule),
                       timeout=20)
        rc, out, _ = c.logview("-d", c.firer_dir(), "-t", txs[0])
        rows = [line.split("\t") for line in out.splitlines()]
        hangs = [r for r in rows if r[6] == "hang"]
        resets = [r for r in rows if r[6] == "reset"]
        assert [(r[3], r[4]) for r in hangs] == [("retry", "0"),
                                                 ("failed", "0")], hangs
        assert "imeout" in hangs[0][12] or "timed out" in hangs[0][12], \
            hangs[0]
        assert [(r[3], r[4]) for r in resets] == [("retry", "0"),
                                                  ("failed", "0")], resets
        hang.set()
        assert all(v == 0 for v in c.stop_all().values())
    slow.close()
    good.close()
    reset.sock.close()


if __name__ == "__main__":
    main([test_near_miss_tokens, test_no_open_redirect,
          test_ten_thousand_idle_connections,
          test_hanging_and_resetting_receivers])
