"""Retention that keeps up: under a sustained rate well above what a
fixed count a second could remove, the matcher's and the firer's stores
level off at about rate x retention; nothing inside the window goes; a
retention shortened on SIGHUP over a large backlog is caught up while
the matcher keeps answering."""

import random
import subprocess
import time

from harness import Receiver, cluster_of, free_port, get, main, program
from wire import HIT_CLICK, HIT_POSTBACK, Sender, hit, txid

INGEST = "ingest-r/00000000000000a1"


def metrics(port):
    status, _, body = get("http://127.0.0.1:%d/metrics" % port)
    assert status == 200, status
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def records(port, daemon, kind):
    return metrics(port)['postline_%s_records{kind="%s"}' % (daemon, kind)]


def removed(port, daemon, kind):
    return metrics(port).get(
        'postline_%s_retention_removed_total{kind="%s"}' % (daemon, kind), 0)


def wait_until(what, check, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("never: " + what)


def clicks(n, ms=None):
    return [hit(HIT_CLICK, txid(ms=ms), {"offer_id": "o1", "publisher": "p"},
                ms=ms) for _ in range(n)]


def paced(seconds, per_tick, send, tick=0.1):
    """Call send() every tick for seconds; return how many it sent."""
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        sent += send(per_tick)
        ahead = start + (sent / per_tick) * tick - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    return sent


def test_matcher_levels_off_above_the_old_cap():
    """6,000 clicks/s with retention clicks 2s: the store holds about
    two seconds of clicks, not what the old 1,000 a second left."""
    port = free_port()
    with cluster_of("offer o1 url http://127.0.0.1:9/\n"
                    "retention clicks 2s\n"
                    "matcher metrics 127.0.0.1:%d" % port) as c:
        c.start("matcher")
        s = Sender("ipc://%s/matcher-0.sock" % c.dir, INGEST)

        def send(n):
            s.send(clicks(n))
            return n
        seen = []
        for _ in range(4):
            paced(3, 600, send)
            seen.append(records(port, "matcher", "clicks"))
        rate = 6000
        assert all(n <= rate * (2 + 2) for n in seen), seen
        assert seen[-1] >= rate * 1, seen   # the window itself stays
        # Both gauges are set once a second: read them after a setting
        # that follows the last batch, so that kept + removed is all.
        time.sleep(1.2)
        kept = records(port, "matcher", "clicks")
        gone = removed(port, "matcher", "clicks")
        assert gone >= s.seq - kept - rate, (s.seq, seen, kept, gone)
        s.close()
        assert c.stop("matcher") == 0


def test_window_edges():
    """A conversion for a click just inside retention clicks joins; one
    for a click just outside is unknown_click."""
    port = free_port()
    with cluster_of("global-token g1\n"
                    "offer o1 url http://127.0.0.1:9/\n"
                    "retention clicks 60s\nmatcher grace 500ms\n"
                    "matcher metrics 127.0.0.1:%d" % port) as c:
        c.start("matcher")
        s = Sender("ipc://%s/matcher-0.sock" % c.dir, INGEST)
        now = int(time.time() * 1000)
        inside, outside = txid(ms=now - 50000), txid(ms=now - 70000)
        s.send([hit(HIT_CLICK, t, {"offer_id": "o1", "publisher": "p"},
                    ms=now - 1000) for t in (inside, outside)])
        wait_until("the old click removed",
                   lambda: removed(port, "matcher", "clicks") >= 1)
        assert records(port, "matcher", "clicks") == 1
        _, verdicts = s.send([hit(HIT_POSTBACK, t, {"_token": "*"})
                              for t in (inside, outside)])
        assert [v[1] for v in verdicts] == ["approved", "accepted"], verdicts
        c.wait_log("matcher-0", "transaction_id=%s result=rejected "
                   "reason=unknown_click" % outside, timeout=10)
        s.close()
        assert c.stop("matcher") == 0


def test_catch_up_after_a_shortened_retention():
    """80 days of clicks kept for 90d; SIGHUP makes it 1m: the matcher
    says how far behind it is, answers every batch meanwhile, and ends
    with only the last minute's clicks."""
    port = free_port()
    with cluster_of("offer o1 url http://127.0.0.1:9/\n"
                    "retention clicks 90d\n"
                    "matcher metrics 127.0.0.1:%d" % port) as c:
        c.start("matcher")
        s = Sender("ipc://%s/matcher-0.sock" % c.dir, INGEST)
        now = int(time.time() * 1000)
        day = 86400 * 1000
        old = sorted(now - random.randrange(2 * day, 80 * day)
                     for _ in range(60000))
        for i in range(0, len(old), 2000):
            s.send([hit(HIT_CLICK, txid(ms=ms), {"offer_id": "o1",
                                                 "publisher": "p"}, ms=ms)
                    for ms in old[i:i + 2000]])
        wait_until("the gauge shows them", lambda: records(
            port, "matcher", "clicks") == len(old))
        c.edit_conf("retention clicks 90d", "retention clicks 1m")
        c.procs["matcher-0"].send_signal(1)
        c.wait_log("matcher-0", "event=reload result=ok")
        recent, slowest = 0, 0.0
        while records(port, "matcher", "clicks") > recent:
            started = time.monotonic()
            s.send(clicks(20))
            slowest = max(slowest, time.monotonic() - started)
            recent += 20
            assert recent < 20 * 1000, "never caught up"
            time.sleep(0.02)
        assert slowest < 1.0, slowest   # no batch waited behind a prune
        text = c.log_text("matcher-0")
        behind = [int(w.split("=")[1]) for w in text.split()
                  if w.startswith("behind_seconds=")]
        assert behind and max(behind) > 86400, behind
        assert removed(port, "matcher", "clicks") == len(old)
        s.close()
        assert c.stop("matcher") == 0


def conversions(n):
    out = []
    for _ in range(n):
        t = txid()
        out.append(hit(HIT_CLICK, t, {"offer_id": "o1", "publisher": "p"}))
        out.append(hit(HIT_POSTBACK, t, {"_token": "*"}))
    return out


def test_firer_levels_off_above_the_old_cap():
    """1,500 deliveries/s with retention logs 1s (each leaves an attempt,
    a finished delivery and a conversion state: 4,500 records/s): each
    kind holds about a second's worth."""
    port = free_port()
    with cluster_of("global-token g1\n"
                    "offer o1 url http://127.0.0.1:9/\n"
                    "postback refused on conversion retry 0 "
                    "url http://127.0.0.1:1/\n"
                    "retention logs 1s\n"
                    "firer metrics 127.0.0.1:%d" % port) as c:
        c.start("matcher")
        c.start("firer")
        s = Sender("ipc://%s/matcher-0.sock" % c.dir, INGEST)

        def send(n):
            s.send(conversions(n))
            return n
        sent = 0
        seen = []
        for _ in range(4):
            sent += paced(3, 150, send)
            m = metrics(port)
            seen.append({k: m['postline_firer_records{kind="%s"}' % k]
                         for k in ("log", "deliveries", "states")})
        rate = 1500
        assert all(v <= rate * (1 + 2) for n in seen for v in n.values()), \
            (seen, sent)
        m = metrics(port)
        done = sum(v for k, v in m.items()
                   if k.startswith('postline_firer_attempts_total'))
        assert done >= sent / 2, (done, sent)   # they were delivered
        s.close()
        assert all(v == 0 for v in c.stop_all().values())


def test_firer_keeps_what_is_inside_the_window():
    """An attempt inside retention logs is listed by logview and can be
    replayed; one outside is gone from both."""
    recv = Receiver()
    port = free_port()
    with cluster_of("global-token g1\n"
                    "offer o1 url http://127.0.0.1:9/\n"
                    "postback aff on conversion url \"%s?t={transaction_id}"
                    "\"\nretention logs 3s\n"
                    "firer metrics 127.0.0.1:%d" % (recv.url("/a"), port)) \
            as c:
        c.start("matcher")
        c.start("firer")
        s = Sender("ipc://%s/matcher-0.sock" % c.dir, INGEST)
        s.send(conversions(1))
        recv.wait_for(1)
        time.sleep(3.5)
        s.send(conversions(1))
        recv.wait_for(2)
        old, new = (r["query"]["t"][0] for r in recv.requests)
        wait_until("the old attempt removed",
                   lambda: removed(port, "firer", "log") >= 1)
        status, out, _ = c.logview("-d", c.firer_dir(), "--fields",
                                   "transaction_id,postback_id")
        assert status == 0, out
        rows = [line.split("\t") for line in out.splitlines()]
        assert [r[0] for r in rows] == [new], rows
        replay = subprocess.run([program("firer"), "-R", "-f", c.conf],
                                input=rows[0][1] + "\n", capture_output=True,
                                text=True, timeout=30)
        assert replay.returncode == 0, replay.stderr
        got = recv.wait_for(3)
        assert got[2]["query"]["t"] == [new], got
        assert old != new
        s.close()
        assert all(v == 0 for v in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_matcher_levels_off_above_the_old_cap,
          test_window_edges,
          test_catch_up_after_a_shortened_retention,
          test_firer_levels_off_above_the_old_cap,
          test_firer_keeps_what_is_inside_the_window])
