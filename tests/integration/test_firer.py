"""firer: signing, CRM pushes, delays and their cancellation, retries,
per-host caps, interrupted attempts, replay, rule versions."""

import base64
import hashlib
import hmac
import json
import signal
import subprocess
import threading
import time

from harness import (Receiver, cluster_of, get, kv, main, program)

SECRET = base64.b64encode(b"0123456789abcdef0123").decode()


def base(recv, rules):
    return "\n".join([
        "global-token g1",
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}" payout 2',
    ] + [r % {"url": recv.url("")} for r in rules])


def convert(c, extra=""):
    _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p&sub_id=" + extra)
    tx = h["location"].split("t=")[1]
    status, _, body = get(c.base() + "/postback?secure=g1&transaction_id=" +
                          tx)
    assert status == 200, (status, body)
    return tx


def rows(c, *args):
    rc, out, err = c.logview("-d", c.firer_dir(), *args)
    assert rc in (0, 1), (rc, err)
    return [line.split("\t") for line in out.splitlines()]


def test_signed_get_and_json_post():
    recv = Receiver()
    rules = [
        'postback aff on conversion sign whsec_%s url "%%(url)s/aff'
        '?t={transaction_id}"' % SECRET,
        'postback crm on conversion method post sign whsec_%s '
        'header "Content-Type: application/json" header "X-Key: k1" '
        'body "{\\"tx\\":\\"{transaction_id}\\",\\"sub\\":\\"{sub_id}\\"}" '
        'url "%%(url)s/crm"' % SECRET,
    ]
    key = base64.b64decode(SECRET)
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        hostile = "a%22b%5Cc%0Ad%7B%7D%09e%01"
        tx = convert(c, hostile)
        got = {r["path"]: r for r in recv.wait_for(2)}
        for path, r in got.items():
            h = r["headers"]
            if path == "/aff":
                payload = recv.url(path + "?" + r["raw_query"]).encode()
            else:
                payload = r["body"]
            signed = ("%s.%s." % (h["webhook-id"], h["webhook-timestamp"])
                      ).encode() + payload
            want = base64.b64encode(hmac.new(key, signed,
                                             hashlib.sha256).digest())
            assert h["webhook-signature"] == "v1," + want.decode(), (path, h)
        crm = got["/crm"]
        assert crm["method"] == "POST", crm
        assert crm["headers"]["content-type"] == "application/json"
        assert crm["headers"]["x-key"] == "k1"
        doc = json.loads(crm["body"])
        assert doc == {"tx": tx, "sub": 'a"b\\c\nd{}\te\x01'}, doc
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_delay_then_cancel_by_rejection():
    recv = Receiver()
    rules = [
        'postback hold on conversion delay 1500ms url "%(url)s/hold'
        '?t={transaction_id}"',
        'postback rej on conversion status rejected url "%(url)s/rej'
        '?t={transaction_id}&r={reason}"',
        'postback late on conversion delay 500ms url "%(url)s/late"',
        'postback any on conversion status any delay 1s url "%(url)s/any'
        '?s={status}"',
    ]
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        tx = convert(c)
        status, _, body = get(c.base() + "/reject?secure=g1&transaction_id=%s"
                              "&reason=fraud" % tx)
        assert kv(body).get("reason") == "fraud", body
        got = recv.wait_for(1)
        assert got[0]["path"] == "/rej", got
        c.wait_log("firer-0", "result=cancelled", count=2)
        # status any fires for both statuses, delay or not.
        got = recv.wait_for(3)
        assert sorted((r["path"], r["raw_query"]) for r in got) == [
            ("/any", "s=approved"), ("/any", "s=rejected"),
            ("/rej", "t=%s&r=fraud" % tx)], got
        results = sorted((r[6], r[3]) for r in rows(c, "--transaction", tx))
        assert results == [("any", "ok"), ("any", "ok"), ("hold", "cancelled"),
                           ("late", "cancelled"), ("rej", "ok")], results
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_not_retried_statuses():
    answers = {"/a": 404, "/b": 410, "/c": 302}
    recv = Receiver(status=lambda e: answers[e["path"]])
    rules = ['postback %s on conversion retry 0,10ms,10ms url "%%(url)s/%s"'
             % (n, n) for n in "abc"]
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        tx = convert(c)
        recv.wait_for(3)
        c.wait_log("firer-0", "result=failed", count=3)
        time.sleep(0.3)
        assert len(recv.requests) == 3, recv.requests
        got = sorted((r[6], r[3], r[4]) for r in rows(c, "-t", tx))
        assert got == [("a", "failed", "404"), ("b", "failed", "410"),
                       ("c", "failed", "302")], got
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_per_host_cap_with_a_slow_receiver():
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def slow(entry):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return 200

    recv = Receiver(status=slow)
    rules = ['postback aff on conversion url "%(url)s/aff?t={transaction_id}"',
             "firer max-per-host 2"]
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        for _ in range(8):
            convert(c)
        recv.wait_for(8, timeout=30)
        assert state["max"] <= 2, state
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_kill_during_delivery_logs_interrupted():
    first = threading.Event()

    def hang_first(entry):
        if not first.is_set():
            first.set()
            time.sleep(3)
        return 200

    recv = Receiver(status=hang_first)
    rules = ['postback aff on conversion retry 0,10ms url "%(url)s/aff'
             '?pid={postback_id}&n={attempt}"']
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        tx = convert(c)
        assert first.wait(10)
        c.stop("firer", sig=signal.SIGKILL)
        c.start("firer")
        # The cut-off request is not recorded (its answer cannot be sent).
        got = recv.wait_for(1)
        assert got[0]["query"]["n"] == ["2"], got
        c.wait_log("firer-0", "result=ok")
        pid = got[0]["query"]["pid"][0]
        assert {r[1] for r in rows(c, "-t", tx)} == {pid}
        got = [(r[2], r[3]) for r in rows(c, "-t", tx)]
        assert got == [("1", "interrupted"), ("2", "ok")], got
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_replay_failed_deliveries():
    answers = [404]
    recv = Receiver(status=lambda e: answers.pop(0) if answers else 200)
    rules = ['postback aff on conversion url "%(url)s/aff?pid={postback_id}"']
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        tx = convert(c)
        c.wait_log("firer-0", "result=failed")
        lv = subprocess.run(
            "%s -d %s --result failed --fields postback_id | %s -R -f %s" %
            (program("logview"), c.firer_dir(), program("firer"), c.conf),
            shell=True, capture_output=True, timeout=30)
        assert lv.returncode == 0, lv
        got = recv.wait_for(2)
        assert got[0]["query"]["pid"] == got[1]["query"]["pid"], got
        c.wait_log("firer-0", "result=ok")
        got = [(r[2], r[3], r[4]) for r in rows(c, "-t", tx)]
        assert got == [("1", "failed", "404"), ("2", "ok", "200")], got
        bad = subprocess.run([program("firer"), "-R", "-f", c.conf],
                             input=b"nosuchid\n", capture_output=True)
        assert bad.returncode == 1 and b"nosuchid" in bad.stderr, bad
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_scheduled_deliveries_keep_their_rule_version():
    recv = Receiver()
    rules = ['postback aff on conversion delay 1s url "%(url)s/old"']
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        convert(c)
        c.wait_log("firer-0", "event=scheduled")
        c.edit_conf("/old", "/new")
        c.procs["firer-0"].send_signal(signal.SIGHUP)
        c.wait_log("firer-0", "event=reload result=ok")
        convert(c)
        got = sorted(r["path"] for r in recv.wait_for(2))
        assert got == ["/new", "/old"], got
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_every_filter():
    recv = Receiver()
    rules = [
        'offer o2 url "http://127.0.0.1:9/?t={transaction_id}"',
        'postback by_offer on conversion offer o2,o1 url "%(url)s/offer"',
        'postback other_offer on conversion offer o2 url "%(url)s/never"',
        'postback by_pub on conversion publisher px,p url "%(url)s/pub"',
        'postback other_pub on conversion publisher px url "%(url)s/never"',
        'postback pend on conversion status pending url "%(url)s/pending"',
        'postback rej on conversion status rejected reason fraud,dup '
        'url "%(url)s/fraud"',
        'postback rej_other on conversion status rejected reason nope '
        'url "%(url)s/never"',
        'postback ev on event event ftd,signup url "%(url)s/ev?e={event}"',
        'postback ev_other on event event other url "%(url)s/never"',
        'postback clk on click offer o1 url "%(url)s/click"',
    ]
    with cluster_of(base(recv, rules)) as c:
        c.start_all()
        txs = []
        for _ in range(2):
            _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
            txs.append(h["location"].split("t=")[1])
        url = c.base() + "/postback?secure=g1&transaction_id="
        assert kv(get(url + txs[0])[2])["result"] == "approved"
        assert kv(get(url + txs[1] + "&status=pending")[2])["result"] == \
            "pending"
        body = get(url + txs[1] + "&status=rejected&reason=fraud")[2]
        assert kv(body)["result"] == "rejected", body
        assert kv(get(url + txs[1] + "&event=ftd")[2])["result"] == \
            "approved"
        recv.wait_for(7)
        time.sleep(0.5)
        paths = sorted(r["path"] for r in recv.requests)
        assert paths == ["/click", "/click", "/ev", "/fraud", "/offer",
                         "/pending", "/pub"], paths
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_signed_get_and_json_post, test_delay_then_cancel_by_rejection,
          test_not_retried_statuses, test_per_host_cap_with_a_slow_receiver,
          test_kill_during_delivery_logs_interrupted,
          test_replay_failed_deliveries,
          test_scheduled_deliveries_keep_their_rule_version,
          test_every_filter])
