"""report --postbacks: one row per conversion-type request, refused by
ingest or decided by the matcher, with the secure token never stored."""

import json
import os
import re
import time

from harness import (Receiver, cluster_of, free_port, get, http_request,
                     main, program, run)

TOKEN = "g1-very-secret-token"
OFFER_TOKEN = "o2-own-secret"


def conf(extra=""):
    return "\n".join([
        "global-token " + TOKEN,
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}" '
        'min-delta 1h',
        'offer o2 url "http://127.0.0.1:9/?t={transaction_id}" '
        'token ' + OFFER_TOKEN,
        "alias * sig secure",
        "matcher grace 500ms",
    ]) + "\n" + extra


def click(c, offer):
    _, h, _ = get(c.base() + "/click?offer_id=%s&publisher=p1&sub_id=s7" %
                  offer)
    return h["location"].split("t=")[1]


def rows(c, *args):
    status, out, err = run([program("report"), "-f", c.conf, "--postbacks",
                            "--json"] + list(args))
    assert status in (0, 1) and err == "", (status, err)
    return [json.loads(line) for line in out.splitlines()]


def test_every_kind_of_row():
    with cluster_of(conf()) as c:
        c.start_all()
        tx1, tx2 = click(c, "o1"), click(c, "o2")
        g = "secure=" + TOKEN
        sent = [
            # refused by ingest
            ("/postback?secure=wrong&transaction_id=" + tx1, 403),
            ("/postback?%s&transaction_id=invented" % g, 400),
            ("/clickless?%s&offer_id=nope" % g, 404),
            ("/postback?%s" % g, 400),
            ("/pixel?secure=wrong&transaction_id=" + tx1, 200),
            # decided by the matcher
            ("/postback?sig=%s&transaction_id=%s&status=pending"
             "&order_id=A1&x=a%%09b%%0a%%1b[31m" % (OFFER_TOKEN, tx2), 200),
            ("/postback?%s&transaction_id=%s" % (g, tx2), 200),
            ("/postback?%s&transaction_id=%s" % (g, tx2), 200),
            ("/postback?%s&transaction_id=%s" % (g, tx1), 200),
            ("/reject?%s&transaction_id=%s&reason=fraud" % (g, tx2), 200),
            ("/clickless?%s&offer_id=o1&publisher=p9" % g, 200),
            ("/pixel?%s&transaction_id=%s&event=sale" % (g, tx2), 200),
            ("/postback?%s&transaction_id=0mwppdl1c001dbpvtbti2ff3xeqds7w6"
             % g, 202),
        ]
        for path, want in sent:
            status, _, body = get(c.base() + path)
            assert status == want, (path, status, body)
        c.wait_log("matcher-0", "reason=unknown_click")
        got = rows(c)
        assert len(got) == len(sent), got
        want = [
            ("/postback", 403, "error", "bad_token", tx1),
            ("/postback", 400, "error", "bad_transaction_id", "invented"),
            ("/clickless", 404, "error", "unknown_offer", ""),
            ("/postback", 400, "error", "missing_parameter", ""),
            ("/pixel", 200, "error", "bad_token", tx1),
            ("/postback", 200, "pending", "", tx2),
            ("/postback", 200, "approved", "", tx2),
            ("/postback", 200, "rejected", "duplicate", tx2),
            ("/postback", 200, "rejected", "too_fast", tx1),
            ("/reject", 200, "rejected", "fraud", tx2),
            ("/clickless", 200, "approved", "", None),
            ("/pixel", 200, "approved", "", tx2),
            ("/postback", 202, "rejected", "unknown_click",
             "0mwppdl1c001dbpvtbti2ff3xeqds7w6"),
        ]
        for r, (path, http, result, reason, tx) in zip(got, want):
            assert (r["path"], r["http_status"], r["result"],
                    r["reason"]) == (path, http, result, reason), r
            if tx is not None:
                assert r["transaction_id"] == tx, r
            assert r["ip"] == "127.0.0.1", r
            assert r["query"].startswith("secure=***") or \
                "secure=***" in r["query"] or "sig=***" in r["query"], r
        assert got[2]["offer_id"] == "nope"
        assert got[5]["offer_id"] == "o2" and got[5]["status"] == "pending"
        assert got[5]["order_id"] == "A1"
        assert "x=a%09b%0A%1B%5B31m" in got[5]["query"], got[5]
        assert got[10]["offer_id"] == "o1"
        assert got[11]["event"] == "sale"
        # --result and --transaction (by the index) choose rows.
        assert [r["reason"] for r in rows(c, "--result", "error")] == [
            "bad_token", "bad_transaction_id", "unknown_offer",
            "missing_parameter", "bad_token"]
        assert [r["result"] for r in rows(c, "-t", tx2)] == [
            "pending", "approved", "rejected", "rejected", "approved"]
        # --publisher and --sub-id by the click's.
        # tx2: five rows; tx1: its too_fast one.
        assert len(rows(c, "--publisher", "p1", "--sub-id", "s7")) == 6
        assert rows(c, "--sub-id", "s8") == []
        # The tab-separated listing carries no control character.
        status, out, _ = run([program("report"), "-f", c.conf,
                              "--postbacks"])
        assert status == 0 and len(out.splitlines()) == len(sent)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), out
        assert all(s == 0 for s in c.stop_all().values())
        # No token anywhere: not in the listings, the daemons' logs or
        # any store.
        logs = "".join(c.log_text(k) for k in c.logs)
        for secret in (TOKEN, OFFER_TOKEN):
            assert secret not in out and secret not in logs
            assert secret not in json.dumps(got)
            for root, _, files in os.walk(os.path.join(c.dir, "data")):
                for name in files:
                    with open(os.path.join(root, name), "rb") as f:
                        assert secret.encode() not in f.read(), (
                            secret, root, name)


def test_requests_refused_before_they_are_read():
    """405, 413, 415 and too many parameters leave rows too, without
    their parameters; a click refused so leaves none."""
    with cluster_of(conf()) as c:
        c.start_all()
        base = c.base()
        assert http_request("PUT", base + "/postback?secure=x")[0] == 405
        assert http_request("POST", base + "/postback", body=b"a=b",
                            headers={"Content-Type": "text/xml"})[0] == 415
        assert http_request("POST", base + "/reject", body=b"x" * 70000,
                            headers={"Content-Type":
                                     "application/x-www-form-urlencoded"}
                            )[0] == 413
        many = "&".join("p%d=1" % i for i in range(150))
        assert get(base + "/pixel?secure=x&" + many)[0] == 400
        assert get(base + "/click?offer_id=o1&" + many)[0] == 400
        got = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = rows(c)
            if len(got) >= 4:
                break
            time.sleep(0.1)
        assert [(r["path"], r["http_status"], r["reason"]) for r in got] == [
            ("/postback", 405, "method_not_allowed"),
            ("/postback", 415, "unsupported_media_type"),
            ("/reject", 413, "request_too_large"),
            ("/pixel", 400, "too_many_parameters")], got
        assert all(r["result"] == "error" for r in got)
        assert all(s == 0 for s in c.stop_all().values())


def test_kill_9_every_2xx_has_one_row():
    """Postbacks and refused pixels stream in while the matcher and the
    ingest are killed -9 and restarted: every request answered 2xx has
    exactly one row."""
    import signal
    import threading
    with cluster_of(conf()) as c:
        c.start_all()
        txs = [click(c, "o2") for _ in range(40)]
        answered, stop = set(), threading.Event()

        def stream():
            i = 0
            while not stop.is_set():
                i += 1
                if i % 3 == 0:
                    path = "/pixel?secure=bad&transaction_id=x&n=%d" % i
                else:
                    path = ("/postback?secure=%s&transaction_id=%s&"
                            "order_id=o%d&n=%d" % (TOKEN, txs[i % 40], i,
                                                   i))
                try:
                    status, _, _ = get(c.base() + path)
                except OSError:
                    time.sleep(0.05)	# ingest is down
                    continue
                if 200 <= status < 300:
                    answered.add(i)

        th = threading.Thread(target=stream)
        th.start()
        try:
            for name in ("matcher", "ingest", "matcher", "ingest"):
                time.sleep(0.6)
                c.procs[name + "-0"].send_signal(signal.SIGKILL)
                c.procs[name + "-0"].wait()
                c.start(name)
            time.sleep(0.5)
        finally:
            stop.set()
            th.join()
        assert len(answered) > 50, len(answered)
        deadline = time.monotonic() + 30
        while True:
            seen = [int(m.group(1)) for r in rows(c) for m in
                    [re.search(r"(?:^|&)n=(\d+)(?:&|$)", r["query"] or "")]
                    if m]
            if answered <= set(seen) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        missing = answered - set(seen)
        assert not missing, sorted(missing)[:20]
        twice = [n for n in set(seen) if seen.count(n) > 1]
        assert not twice, twice[:20]
        assert all(s == 0 for s in c.stop_all().values())


def scrape(port, name):
    _, _, body = get("http://127.0.0.1:%d/metrics" % port)
    m = re.search(r"^%s (\d+)$" % name, body, re.M)
    return int(m.group(1)) if m else None


def flood(port, first, n, done):
    """n refused postbacks on one keep-alive connection; the last one's
    number goes to done."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(first, first + n):
        conn.request("GET", "/postback?secure=bad&transaction_id=x&n=%d" % i)
        r = conn.getresponse()
        r.read()
        assert r.status == 403, r.status
    conn.close()
    done.append(first + n - 1)


def test_refusals_are_capped():
    """100,000 refused requests against postbacks-max 1000: the newest
    1000 rows are kept, the rest counted dropped, and clicks sent
    meanwhile are all answered."""
    import threading
    port = free_port()
    extra = "ingest postbacks-max 1000\ningest metrics 127.0.0.1:%d" % port
    with cluster_of(conf(extra)) as c:
        c.start_all()
        done = []
        threads = [threading.Thread(target=flood, args=(c.port, k * 25000,
                                                         25000, done))
                   for k in range(4)]
        for th in threads:
            th.start()
        clicks = 0
        while any(th.is_alive() for th in threads):
            assert get(c.base() + "/click?offer_id=o1&publisher=p")[0] == 302
            clicks += 1
            time.sleep(0.01)
        for th in threads:
            th.join()
        assert clicks > 10, clicks
        got = rows(c, "--result", "error")
        assert len(got) == 1000, len(got)
        # The newest are kept: the very last request sent is there.
        ns = {int(re.search(r"n=(\d+)", r["query"]).group(1)) for r in got}
        assert len(done) == 4 and done[-1] in ns, (done, sorted(ns)[-8:])
        assert scrape(port, "postline_ingest_postbacks_dropped_total") \
            == 99000
        assert all(s == 0 for s in c.stop_all().values())

if __name__ == "__main__":
    main([test_every_kind_of_row, test_requests_refused_before_they_are_read,
          test_kill_9_every_2xx_has_one_row, test_refusals_are_capped])
