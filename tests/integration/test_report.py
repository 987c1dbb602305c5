"""report: the operator's numbers, checked against what the test itself
sent through ingest to two matcher shards; exact after kill -9; a status
change stays in its conversion's hour; currencies never added up; bad
input refused with exit 2."""

import collections
import json
import os
import random
import re
import tempfile
import signal
import subprocess
import threading
import time
import urllib.parse
from decimal import ROUND_HALF_UP, Decimal

from harness import (BUILD, SOURCE, cluster_of, free_port, get, kv, main,
                     program, run)
from wire import HIT_CLICK, HIT_POSTBACK, Sender, hit, txid

CONF = "\n".join([
    "global-token g1",
    'offer o1 url "http://127.0.0.1:9/?t={transaction_id}" payout 2.50 '
    'revenue 4',
    'offer o2 url "http://127.0.0.1:9/?t={transaction_id}" token tok2',
    "matcher grace 500ms",
    "ingest trust-proxy 127.0.0.0/8",
])

COUNTS = ("impressions", "clicks", "unique_clicks", "approved", "pending",
          "rejected", "invalid", "events")


def report(c, *args):
    status, out, err = run([program("report"), "-f", c.conf] + list(args))
    assert status in (0, 1), (args, status, err)
    return [json.loads(line) for line in out.splitlines()] if \
        "--json" in args else out


class Truth:
    """What the test sent and was answered, by (offer, publisher)."""

    def __init__(self, c):
        self.c = c
        self.rows = collections.defaultdict(collections.Counter)
        self.money = collections.defaultdict(lambda: [Decimal(0),
                                                      Decimal(0)])
        self.seen = set()
        self.clicks = {}            # txid -> (offer, publisher)
        self.status = {}            # txid -> status of its conversion

    def click(self, offer, publisher, ip, ua, path="/click"):
        status, h, _ = get(self.c.base() + "%s?offer_id=%s&publisher=%s" % (
            path, offer, publisher), {"X-Forwarded-For": ip,
                                      "User-Agent": ua})
        key = (offer, publisher)
        if path == "/impression":
            assert status == 200, status
            self.rows[key]["impressions"] += 1
            return None
        assert status == 302, status
        tx = urllib.parse.parse_qs(urllib.parse.urlsplit(
            h["location"]).query)["t"][0]
        self.rows[key]["clicks"] += 1
        if (offer, ip, ua) not in self.seen:
            self.seen.add((offer, ip, ua))
            self.rows[key]["unique_clicks"] += 1
        self.clicks[tx] = key
        return tx

    def postback(self, tx, secure="g1", path="/postback", **params):
        q = dict(params, secure=secure, transaction_id=tx)
        status, _, body = get(self.c.base() + path + "?" +
                              urllib.parse.urlencode(q))
        return status, kv(body)

    def amounts(self, key, params):
        offer = {"o1": (Decimal("4"), Decimal("2.50")),
                 "o2": (Decimal(0), Decimal(0))}[key[0]]
        return (Decimal(params.get("revenue", offer[0])),
                Decimal(params.get("payout", offer[1])))

    def add_money(self, key, params, sign):
        rev, pay = self.amounts(key, params)
        self.money[key][0] += sign * rev
        self.money[key][1] += sign * pay

    def convert(self, tx, status="approved", **params):
        code, v = self.postback(tx, status=status, **params)
        assert code == 200 and v["result"] == status, (code, v)
        key = self.clicks[tx]
        if "event" in params:
            self.rows[key]["events"] += 1
        else:
            self.rows[key][status] += 1
            self.status[tx] = (status, params)
        if status == "approved":
            self.add_money(key, params, 1)

    def change(self, tx, to, path="/postback"):
        old, params = self.status[tx]
        extra = {"status": to} if path == "/postback" else {}
        code, v = self.postback(tx, path=path, **extra)
        assert code == 200 and v["result"] == to, (code, v)
        key = self.clicks[tx]
        self.rows[key][old] -= 1
        self.rows[key][to] += 1
        self.status[tx] = (to, params)
        if old == "approved":
            self.add_money(key, params, -1)
        if to == "approved":
            self.add_money(key, params, 1)

    def refused(self, tx, reason, key, **kw):
        code, v = self.postback(tx, **kw)
        assert code == 200 and v.get("reason") == reason, (code, v)
        self.rows[key]["invalid"] += 1


def drive(t):
    """Clicks (some from one IP and User-Agent again), impressions and
    every kind of verdict."""
    rnd = random.Random(7)
    txs = []
    for i in range(40):
        offer = "o1" if i % 3 else "o2"
        pub = "pA" if i % 2 else "pB"
        ip = "198.51.100.%d" % rnd.randrange(4)
        ua = "UA-%d" % rnd.randrange(3)
        txs.append(t.click(offer, pub, ip, ua))
    for _ in range(5):
        t.click("o1", "pA", "198.51.100.1", "UA-0", path="/impression")
    o1 = [x for x in txs if t.clicks[x][0] == "o1"]
    o2 = [x for x in txs if t.clicks[x][0] == "o2"]
    for x in o1[:6] + o2[:3]:
        t.convert(x)                            # amounts of the offer
    for x in o1[6:8] + o2[3:4]:
        t.convert(x, revenue="10.10", payout="5.05")
    for x in o1[8:12]:
        t.convert(x, status="pending", payout="1.125")
    t.change(o1[8], "approved")
    t.change(o1[9], "approved")
    t.change(o1[10], "rejected", path="/reject")
    t.convert(o1[12], status="rejected", reason="fraud")
    t.change(o1[0], "rejected", path="/reject")
    for x in o1[13:16]:
        t.convert(x, event="signup", revenue="1.5")
    t.refused(o1[1], "duplicate", t.clicks[o1[1]])
    t.refused(o2[0], "duplicate", t.clicks[o2[0]])
    t.refused(o1[16], "invalid_transition", t.clicks[o1[16]],
              path="/reject")
    t.refused(o1[17], "token_mismatch", t.clicks[o1[17]], secure="tok2")
    return txs


def expected(t):
    out = {}
    for key in set(t.rows) | set(t.money):
        r = t.rows[key]
        row = {k: r[k] for k in COUNTS}
        row["revenue"], row["payout"] = t.money[key]
        out[key] = row
    return out


def compare(rows, want):
    got = {}
    for r in rows:
        got[(r["offer_id"], r["publisher"])] = r
        assert r["conversions"] == r["approved"] + r["pending"] + \
            r["rejected"], r
        assert r["duplicate_clicks"] == r["clicks"] - r["unique_clicks"], r
    assert set(got) == set(want), (sorted(got), sorted(want))
    for key, w in want.items():
        g = got[key]
        for k in COUNTS:
            assert g[k] == w[k], (key, k, g[k], w[k])
        for k in ("revenue", "payout"):
            cents = w[k].quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert Decimal(str(g[k])) == cents, (key, k, g[k], w[k])


def test_summary_and_listings_match_what_was_sent():
    with cluster_of(CONF, matchers=2) as c:
        c.start("matcher", 1)
        c.start_all()
        t = Truth(c)
        drive(t)
        lost = txid(shard=1)
        code, v = t.postback(lost)
        assert code == 202, (code, v)
        t.rows[("", "")]["invalid"] += 1
        c.wait_log("matcher-1", "transaction_id=%s result=rejected "
                   "reason=unknown_click" % lost, timeout=10)
        want = expected(t)
        compare(report(c, "--by", "offer,publisher", "--json"), want)
        # The listings add up to the same numbers.
        convs = report(c, "--conversions", "--json")
        base = collections.Counter(r["status"] for r in convs
                                   if r["event"] == "-")
        for s in ("approved", "pending", "rejected"):
            assert base[s] == sum(w[s] for w in want.values()), (s, base)
        assert sum(1 for r in convs if r["event"] == "signup") == 3
        clicks = report(c, "--clicks", "--json")
        assert len(clicks) == sum(w["clicks"] for w in want.values())
        assert sum(r["unique"] == "yes" for r in clicks) == \
            sum(w["unique_clicks"] for w in want.values())
        dup = report(c, "--clicks", "--duplicate", "--json")
        assert all(r["unique"] == "no" for r in dup) and \
            len(dup) == len(clicks) - sum(r["unique"] == "yes"
                                          for r in clicks)
        # --event counts that event in the conversion columns.
        ev = report(c, "--by", "offer", "--event", "signup", "--json")
        o1 = [r for r in ev if r["offer_id"] == "o1"][0]
        assert (o1["approved"], o1["events"]) == (3, 3), o1
        assert Decimal(str(o1["revenue"])) == Decimal("4.50"), o1
        # One shard by -d holds only its share.
        one = report(c, "-d", os.path.join(c.dir, "data", "matcher-0"),
                     "--json")
        assert sum(r["clicks"] for r in one) < len(t.clicks)
        run_examples(c)
        assert all(v == 0 for v in c.stop_all().values())


def manual_commands():
    """The commands of report(1)'s EXAMPLES ("$ " lines, with their
    continuations), as a shell reads them."""
    with open(os.path.join(SOURCE, "man", "report.1")) as f:
        text = f.read()
    text = text[text.index(".Sh EXAMPLES"):text.index(".Sh SEE ALSO")]
    cmds = []
    for block in re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed", text,
                            re.M | re.S):
        block = block.replace("\\e", "\\").replace("\\&", "")
        for cmd in re.split(r"^\$ ", block, flags=re.M)[1:]:
            cmds.append(cmd.strip())
    return cmds


def run_examples(c):
    cmds = manual_commands()
    assert len(cmds) >= 6, cmds
    env = dict(os.environ, POSTLINE_CONF=c.conf,
               PATH=os.path.abspath(BUILD) + ":" + os.environ["PATH"])
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for cmd in cmds:
            p = subprocess.run(["sh", "-c", cmd], cwd=tmp, env=env,
                               capture_output=True, text=True, timeout=60)
            # report exits 1 when nothing is in range (yesterday's).
            assert p.returncode in (0, 1) and p.stderr == "", \
                (cmd, p.returncode, p.stderr)
            outs.append(p.stdout)
    assert outs[0].startswith("day\timpressions\tclicks"), outs[0]
    assert "o1\tapproved\t" in outs[-1], outs[-1]   # sqlite3's counts


def test_exact_after_kill_9():
    """Clicks and conversions stream in while each matcher is killed
    -9 and restarted, several times, with report reading all along:
    at the end the report equals the answers the test was given."""
    with cluster_of(CONF, matchers=2) as c:
        c.start("matcher", 1)
        c.start_all()
        answered = collections.Counter()
        stop = threading.Event()

        def stream():
            while not stop.is_set():
                status, h, _ = get(c.base() + "/click?offer_id=o1&"
                                   "publisher=pK")
                if status != 302:
                    continue
                answered["clicks"] += 1
                tx = h["location"].split("t=")[1]
                status, _, body = get(c.base() + "/postback?secure=g1&"
                                      "transaction_id=" + tx)
                if status == 202 or (status == 200 and
                                     kv(body)["result"] == "approved"):
                    answered["approved"] += 1

        def read():
            while not stop.is_set():
                report(c, "--by", "hour,offer,publisher")

        threads = [threading.Thread(target=stream),
                   threading.Thread(target=read)]
        for th in threads:
            th.start()
        try:
            for i in range(4):
                time.sleep(0.7)
                c.procs["matcher-%d" % (i % 2)].send_signal(signal.SIGKILL)
                c.procs["matcher-%d" % (i % 2)].wait()
                c.start("matcher", i % 2)
            time.sleep(0.5)
        finally:
            stop.set()
            for th in threads:
                th.join()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = report(c, "--by", "offer", "--json")
            got = rows[0] if rows else {"clicks": 0, "approved": 0}
            if (got["clicks"], got["approved"]) == \
                    (answered["clicks"], answered["approved"]):
                break
            time.sleep(0.2)
        assert answered["clicks"] > 50, answered
        assert (got["clicks"], got["approved"]) == \
            (answered["clicks"], answered["approved"]), (got, answered)
        assert len(report(c, "--clicks", "--json")) == answered["clicks"]
        # One visitor: its first click is the one unique, restarts or not.
        assert got["unique_clicks"] == 1, got
        assert all(v == 0 for v in c.stop_all().values())


def test_hour_of_a_status_change_and_currencies():
    """A pending conversion approved in the next hour stays in its
    first hour; two currencies in range split the rows."""
    with cluster_of(CONF) as c:
        c.start("matcher")
        s = Sender("ipc://%s/matcher-0.sock" % c.dir,
                   "ingest-t/00000000000000b1")
        hour = (int(time.time()) // 3600 - 3) * 3600 * 1000
        a, b, e = (txid(ms=hour + 1000) for _ in range(3))
        click = {"offer_id": "o1", "publisher": "p"}
        s.send([hit(HIT_CLICK, x, click, ms=hour + 1000) for x in (a, b, e)])
        s.send([hit(HIT_POSTBACK, a, {"_token": "*", "status": "pending"},
                    ms=hour + 3600000 - 100)])
        _, v = s.send([hit(HIT_POSTBACK, a, {"_token": "*",
                                             "status": "approved"},
                           ms=hour + 3600000 + 5000)])
        assert v[0][1] == "approved", v
        d = os.path.join(c.dir, "data", "matcher-0")
        rows = report(c, "-d", d, "--by", "hour", "--json")
        assert len(rows) == 1, rows
        assert (rows[0]["clicks"], rows[0]["approved"],
                rows[0]["pending"]) == (3, 1, 0), rows
        assert Decimal(str(rows[0]["payout"])) == Decimal("2.50"), rows
        s.send([hit(HIT_POSTBACK, b, {"_token": "*", "currency": "EUR",
                                      "revenue": "7"}, ms=hour + 2000),
                hit(HIT_POSTBACK, e, {"_token": "*", "currency": "USD",
                                      "revenue": "9"}, ms=hour + 2000)])
        rows = report(c, "-d", d, "--by", "hour", "--json")
        by = {r["currency"]: r for r in rows}
        assert set(by) == {"", "EUR", "USD"}, rows
        assert Decimal(str(by["EUR"]["revenue"])) == 7, by
        assert Decimal(str(by["USD"]["revenue"])) == 9, by
        # A value longer than the counters keep still matches itself.
        long_pub = "p" * 100
        s.send([hit(HIT_CLICK, txid(ms=hour + 3000), {
            "offer_id": "o1", "publisher": long_pub}, ms=hour + 3000)])
        rows = report(c, "-d", d, "--publisher", long_pub, "--json")
        assert [r["clicks"] for r in rows] == [1], rows
        out = report(c, "-d", d, "--conversions", "--fields",
                     "transaction_id,time,updated,status")
        line = [x for x in out.splitlines() if x.startswith(a)][0].split()
        assert line[1].endswith(":59:59.900Z") and line[3] == "approved", \
            line
        s.close()
        assert c.stop("matcher") == 0


def test_unique_window_across_a_restart():
    """The unique-click index outlives kill -9 (it is made again from its
    log at start), an entry from the index of an older store is dropped,
    and the log is pruned once the longest unique-window is past."""
    port = free_port()
    with cluster_of("offer o3 url \"http://127.0.0.1:9/\" unique-window "
                    "3s\nmatcher metrics 127.0.0.1:%d" % port) as c:
        d = os.path.join(c.dir, "data", "matcher-0")
        os.makedirs(d)
        p = subprocess.run(["mdb_load", "-s", "unique", "-T", d],
                           input=b" 8bytekey\n 8byteval\n",
                           capture_output=True)
        assert p.returncode == 0, p.stderr
        c.start("matcher")
        assert "dropped=1" in c.log_text("matcher-0"), c.log_text("matcher-0")
        visitor = {"offer_id": "o3", "click_ip": "203.0.113.9",
                   "click_user_agent": "UA-9"}
        t0 = int(time.time() * 1000)
        ids = [txid(ms=t0 + dt) for dt in (0, 500, 1000, 4500)]
        s = Sender("ipc://%s/matcher-0.sock" % c.dir,
                   "ingest-t/00000000000000c1")
        s.send([hit(HIT_CLICK, ids[0], visitor, ms=t0),
                hit(HIT_CLICK, ids[1], visitor, ms=t0 + 500)])
        c.procs["matcher-0"].send_signal(signal.SIGKILL)
        c.procs["matcher-0"].wait()
        c.start("matcher")
        s.send([hit(HIT_CLICK, ids[2], visitor, ms=t0 + 1000),
                hit(HIT_CLICK, ids[3], visitor, ms=t0 + 4500)])
        s.close()
        unique = {r["transaction_id"]: r["unique"] for r in
                  report(c, "-d", d, "--clicks", "--json")}
        assert [unique[x] for x in ids] == ["yes", "no", "no", "yes"], \
            unique

        def metric(name):
            _, _, body = get("http://127.0.0.1:%d/metrics" % port)
            for line in body.splitlines():
                if line.startswith(name + '{kind="unique"}'):
                    return float(line.split()[-1])
            return None
        removed = "postline_matcher_retention_removed_total"
        assert metric(removed) in (None, 0)
        deadline = time.monotonic() + 30
        # A record of the log for each batch of clicks.
        while metric(removed) != 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert time.time() * 1000 > t0 + 4500 + 3000
        assert metric(removed) == 2 and \
            metric("postline_matcher_records") == 0
        assert c.stop("matcher") == 0


def test_bad_input():
    with cluster_of(CONF) as c:
        c.start("matcher")
        d = os.path.join(c.dir, "data", "matcher-0")
        cases = [
            (["--by", "week"], "week"),
            (["--since", "yesterday"], "yesterday"),
            (["--bogus"], "bogus"),
            (["--tz", "Asia/Kolkata"], "whole number of hours"),
            (["--tz", "Nowhere/City"], "Nowhere/City"),
            (["--fields", "day,nothing"], "nothing"),
            (["--status", "approved"], "--conversions"),
        ]
        for args, word in cases:
            status, out, err = run([program("report"), "-d", d] + args)
            assert status == 2 and word in err and out == "", \
                (args, status, out, err)
        status, out, err = run([program("report"), "-d", c.dir])
        assert status == 2 and "not a matcher" in err, (status, err)
        # A store of an older format: clicks and conversions, no counters.
        old = os.path.join(c.dir, "old")
        os.mkdir(old)
        for db in ("clicks", "conversions"):
            p = subprocess.run(["mdb_load", "-s", db, "-T", old],
                               input=b"", capture_output=True)
            assert p.returncode == 0, p.stderr
        status, out, err = run([program("report"), "-d", old])
        assert status == 2 and "older format" in err and out == "", \
            (status, out, err)
        status, out, err = run([program("report"), "-d", d, "--since",
                                "2001-01-01", "--until", "2001-01-02"])
        assert (status, out) == (1, ""), (status, out, err)
        assert c.stop("matcher") == 0


if __name__ == "__main__":
    main([test_summary_and_listings_match_what_was_sent,
          test_exact_after_kill_9,
          test_hour_of_a_status_change_and_currencies,
          test_unique_window_across_a_restart,
          test_bad_input])
