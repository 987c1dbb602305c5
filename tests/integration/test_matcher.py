"""matcher: grace for clicks on their way, attribution windows,
duplicates and multiple conversions, misrouted shards, a kill -9 in the
middle of a stream."""

import signal
import threading
import time

from harness import Receiver, cluster_of, get, kv, main, program, run
from wire import (HIT_CLICK, HIT_POSTBACK, Sender, hit, txid)

def conf(recv, extra=""):
    return "\n".join([
        "global-token g1",
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}" payout 2',
        'offer multi url "http://127.0.0.1:9/?t={transaction_id}" multiple yes',
        'offer short url "http://127.0.0.1:9/?t={transaction_id}" window 1s',
        "matcher grace 1500ms",
        'postback aff on conversion status any url "%s?t={transaction_id}'
        '&o={order_id}&p={payout}"' % recv.url("/aff"),
        'postback ev on event url "%s?t={transaction_id}&e={event}'
        '&o={order_id}"' % recv.url("/ev"),
    ]) + "\n" + extra


def click(c, offer="o1"):
    _, h, _ = get(c.base() + "/click?offer_id=%s&publisher=p" % offer)
    return h["location"].split("t=")[1]


def postback(c, tx, extra=""):
    status, _, body = get(c.base() + "/postback?secure=g1&transaction_id=" +
                          tx + extra)
    return status, kv(body)


def test_conversion_before_its_click_is_held():
    recv = Receiver()
    with cluster_of(conf(recv)) as c:
        c.start("matcher")
        c.start("firer")
        endpoint = "ipc://%s/matcher-0.sock" % c.dir
        a = Sender(endpoint, "ingest-a/0000000000000001")
        b = Sender(endpoint, "ingest-b/0000000000000002")
        tx, lost = txid(), txid()
        _, verdicts = a.send([hit(HIT_POSTBACK, tx, {"_token": "*"}),
                              hit(HIT_POSTBACK, lost, {"_token": "*"})])
        assert [v[1] for v in verdicts] == ["accepted", "accepted"], verdicts
        b.send([hit(HIT_CLICK, tx, {"offer_id": "o1", "publisher": "p"})])
        got = recv.wait_for(1)
        assert got[0]["query"]["t"] == [tx] and got[0]["query"]["p"] == ["2"]
        c.wait_log("matcher-0", "transaction_id=%s result=rejected "
                   "reason=unknown_click" % lost, timeout=10)
        time.sleep(0.3)
        assert len(recv.requests) == 1, recv.requests
        a.close()
        b.close()
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_window_expired():
    recv = Receiver()
    with cluster_of(conf(recv)) as c:
        c.start_all()
        tx = click(c, "short")
        time.sleep(1.2)
        status, answer = postback(c, tx)
        assert answer == {"result": "rejected", "reason": "expired",
                          "transaction_id": tx}, answer
        assert all(s == 0 for s in c.stop_all().values())
    assert recv.requests == []
    recv.close()


def test_too_fast():
    """min-delta: a conversion sooner than that after its click is
    rejected too_fast, fires rules on that reason, counts as invalid; a
    clickless one is exempt; one that seems to come before its click (the
    click's ingest clock ahead) is never too fast."""
    recv = Receiver()
    body = "\n".join([
        "global-token g1",
        'offer fast url "http://127.0.0.1:9/?t={transaction_id}" '
        'min-delta 10s payout 3',
        'postback aff on conversion url "%s?t={transaction_id}"' %
        recv.url("/aff"),
        'postback fraud on conversion status rejected reason too_fast '
        'url "%s?t={transaction_id}&r={reason}"' % recv.url("/fraud"),
    ])
    with cluster_of(body) as c:
        c.start_all()
        tx = click(c, "fast")
        status, answer = postback(c, tx)
        assert status == 200 and answer == {
            "result": "rejected", "reason": "too_fast",
            "transaction_id": tx}, answer
        got = recv.wait_for(1)
        assert got[0]["path"] == "/fraud" and got[0]["query"] == {
            "t": [tx], "r": ["too_fast"]}, got
        status, _, text = get(c.base() + "/clickless?secure=g1&offer_id=fast"
                              "&publisher=p")
        assert kv(text)["result"] == "approved", text
        assert recv.wait_for(2)[1]["path"] == "/aff"

        # Times chosen through the hand-off: 15 s after its click, 3 s
        # before it, 5 s after it.
        sender = Sender("ipc://%s/matcher-0.sock" % c.dir,
                        "ingest-x/0000000000000009")
        at = int(time.time() * 1000) - 60000
        late, skew, soon = txid(ms=at), txid(ms=at), txid(ms=at)
        sender.send([hit(HIT_CLICK, t, {"offer_id": "fast",
                                        "publisher": "p"}, ms=at)
                     for t in (late, skew, soon)])
        _, verdicts = sender.send([
            hit(HIT_POSTBACK, late, {"_token": "*"}, ms=at + 15000),
            hit(HIT_POSTBACK, skew, {"_token": "*"}, ms=at - 3000),
            hit(HIT_POSTBACK, soon, {"_token": "*"}, ms=at + 5000)])
        assert [v[1:3] for v in verdicts] == [
            ("approved", ""), ("approved", ""), ("rejected", "too_fast")], \
            verdicts
        sender.close()
        got = recv.wait_for(5)
        assert sorted((r["path"], r["query"]["t"][0]) for r in got[2:]) == \
            sorted([("/aff", late), ("/aff", skew), ("/fraud", soon)]), got
        # Two too fast (invalid, not conversions), three approved.
        status, out, err = run([program("report"), "-f", c.conf, "--by",
                                "offer", "--fields",
                                "offer_id,conversions,approved,invalid"])
        assert status == 0 and out == "fast\t3\t3\t2\n", (out, err)
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_duplicates_multiple_and_events():
    recv = Receiver()
    with cluster_of(conf(recv)) as c:
        c.start_all()
        tx = click(c)
        assert postback(c, tx, "&order_id=A")[1]["result"] == "approved"
        assert postback(c, tx, "&order_id=B")[1].get("reason") == "duplicate"
        assert postback(c, tx)[1].get("reason") == "duplicate"
        mx = click(c, "multi")
        assert postback(c, mx, "&order_id=A")[1]["result"] == "approved"
        assert postback(c, mx, "&order_id=B")[1]["result"] == "approved"
        assert postback(c, mx, "&order_id=B")[1].get("reason") == "duplicate"
        assert postback(c, tx, "&event=ftd")[1]["result"] == "approved"
        assert postback(c, tx, "&event=ftd")[1].get("reason") == "duplicate"
        assert postback(c, tx, "&event=signup")[1]["result"] == "approved"
        got = recv.wait_for(5)
        aff = sorted((r["query"]["t"][0], r["query"]["o"][0])
                     for r in got if r["path"] == "/aff")
        assert aff == sorted([(tx, "A"), (mx, "A"), (mx, "B")]), aff
        ev = sorted(r["query"]["e"][0] for r in got if r["path"] == "/ev")
        assert ev == ["ftd", "signup"], ev
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_status_changes_and_the_default_status():
    """No status is the base conversion, approved: it approves a pending
    conversion and is a duplicate of an approved or rejected one; a
    rejection without a reason carries "rejected" to the verdict and to
    the event."""
    recv = Receiver()
    rule = ('postback st on conversion status any url "%s?s={status}'
            '&r={reason}"' % recv.url("/st"))
    with cluster_of(conf(recv, rule)) as c:
        c.start_all()
        tx = click(c)
        assert postback(c, tx, "&status=pending")[1]["result"] == "pending"
        assert postback(c, tx)[1]["result"] == "approved"
        assert postback(c, tx)[1].get("reason") == "duplicate"
        status, _, body = get(c.base() + "/reject?secure=g1&transaction_id="
                              + tx)
        assert kv(body) == {"result": "rejected", "reason": "rejected",
                            "transaction_id": tx}, body
        assert postback(c, tx)[1].get("reason") == "duplicate"
        assert postback(c, tx, "&status=approved")[1].get("reason") == \
            "invalid_transition"
        got = [r for r in recv.wait_for(6) if r["path"] == "/st"]
        assert sorted((r["query"]["s"][0], r["query"].get("r", [""])[0])
                      for r in got) == [("approved", ""), ("pending", ""),
                                        ("rejected", "rejected")], got
        time.sleep(0.3)
        assert len(recv.requests) == 6, recv.requests
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_misrouted_shard_is_refused():
    recv = Receiver()
    with cluster_of(conf(recv), matchers=2) as c:
        c.start("matcher", 0)
        s = Sender("ipc://%s/matcher-0.sock" % c.dir,
                   "ingest-x/0000000000000003")
        other = txid(shard=1)
        _, verdicts = s.send([hit(HIT_CLICK, other, {"offer_id": "o1"}),
                              hit(HIT_POSTBACK, other, {"_token": "*"})])
        assert [(v[1], v[2]) for v in verdicts] == [
            ("rejected", "wrong_shard"), ("rejected", "wrong_shard")], verdicts
        c.wait_log("matcher-0", "event=misrouted transaction_id=" + other)
        s.close()
        assert all(v == 0 for v in c.stop_all().values())
    recv.close()


def test_kill_matcher_during_a_stream():
    """Every conversion answered is joined once and delivered once."""
    recv = Receiver()
    with cluster_of(conf(recv)) as c:
        c.start_all()
        answered = []
        stop = threading.Event()

        def load():
            while not stop.is_set():
                tx = click(c)
                status, answer = postback(c, tx)
                if status in (200, 202):
                    answered.append(tx)

        t = threading.Thread(target=load)
        t.start()
        for _ in range(2):
            time.sleep(0.7)
            c.stop("matcher", sig=signal.SIGKILL)
            c.start("matcher")
        time.sleep(0.5)
        stop.set()
        t.join()
        got = recv.wait_for(len(answered), timeout=30)
        time.sleep(1)
        seen = [r["query"]["t"][0] for r in recv.requests]
        assert sorted(seen) == sorted(answered), (len(seen), len(answered))
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_full_map_stops_input_then_recovers():
    """A full LMDB map: the matcher takes nothing (ingest keeps it), logs
    it, and everything is joined once there is room."""
    recv = Receiver()
    with cluster_of(conf(recv, "matcher map-size 1M")) as c:
        c.start_all()
        txs = []
        while "event=store_full" not in c.log_text("matcher-0"):
            txs.extend(click(c) for _ in range(500))
            assert len(txs) < 20000, "the map never filled"
        c.edit_conf("matcher map-size 1M", "matcher map-size 64M")
        assert c.stop("matcher") == 0
        c.start("matcher")
        for tx in (txs[0], txs[-1]):
            status, answer = postback(c, tx)
            assert answer["result"] in ("approved", "accepted"), answer
        got = recv.wait_for(2, timeout=30)
        assert sorted(r["query"]["t"][0] for r in got) == sorted(
            [txs[0], txs[-1]])
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_events_for_a_removed_firer_are_rehomed():
    recv = Receiver()
    with cluster_of(conf(recv), firers=2) as c:
        c.start("matcher")
        c.start("ingest")
        txs = [click(c) for _ in range(12)]
        for tx in txs:
            assert postback(c, tx)[1]["result"] == "approved"
        assert c.stop("matcher") == 0
        text = open(c.conf).read()
        text = "\n".join(line for line in text.splitlines()
                         if "firer-1.sock" not in line) + "\n"
        with open(c.conf, "w") as f:
            f.write(text)
        c.start("matcher")
        c.start("firer", 0)
        got = recv.wait_for(12, timeout=30)
        assert sorted(r["query"]["t"][0] for r in got) == sorted(txs)
        assert "event=outbox_rehomed" in c.log_text("matcher-0")
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_too_fast, test_conversion_before_its_click_is_held,
          test_window_expired,
          test_duplicates_multiple_and_events,
          test_status_changes_and_the_default_status,
          test_misrouted_shard_is_refused, test_kill_matcher_during_a_stream,
          test_full_map_stops_input_then_recovers,
          test_events_for_a_removed_firer_are_rehomed])
