"""The thinnest real path: click -> 302 -> postback -> affiliate postback
-> logview, through ingest, matcher, firer and logview."""

import os
import signal
import urllib.parse

from harness import (Receiver, cluster_of, get, kv, main, post_form, run,
                     program)

GLOBAL = "globtok123"
OFFER_TOKEN = "offertok456"


def config(recv):
    return "\n".join([
        "global-token %s" % GLOBAL,
        'offer o1 url "http://127.0.0.1:9/landing?tx={transaction_id}'
        '&pub={publisher}&s={sub_id}&x={param.x}" token %s payout 2.50'
        % OFFER_TOKEN,
        'offer o2 url "http://127.0.0.1:9/other?tx={transaction_id}"'
        ' token othertok789',
        'postback aff on conversion status approved url "%s'
        '?tx={transaction_id}&payout={payout}&sub={sub_id}'
        '&pid={postback_id}&n={attempt}&off={offer_id}"' % recv.url("/pb"),
    ])


def click(c, query):
    status, headers, body = get(c.base() + "/click?" + query)
    assert status == 302, (status, body)
    loc = urllib.parse.urlsplit(headers["location"])
    return urllib.parse.parse_qs(loc.query, keep_blank_values=True), headers


def test_click_to_affiliate_postback():
    recv = Receiver()
    with cluster_of(config(recv)) as c:
        c.start_all()
        status, _, body = get(c.base() + "/healthz")
        assert status == 200, (status, body)

        q, headers = click(c, "offer_id=o1&publisher=p1&sub_id=a%20b&x=y%26z")
        tx = q["tx"][0]
        assert len(tx) == 32 and tx.isalnum() and tx.islower(), tx
        assert q["pub"] == ["p1"] and q["s"] == ["a b"], q
        assert q["x"] == ["y&z"], q
        assert headers["location"].startswith("http://127.0.0.1:9/landing?")

        status, _, body = get(c.base() + "/postback?secure=%s"
                              "&transaction_id=%s" % (GLOBAL, tx))
        assert status == 200, (status, body)
        assert kv(body) == {"result": "approved", "transaction_id": tx}, body

        pb = recv.wait_for(1)[0]
        assert pb["method"] == "GET" and pb["path"] == "/pb", pb
        assert pb["query"]["tx"] == [tx], pb
        assert pb["query"]["payout"] == ["2.50"], pb
        assert pb["query"]["sub"] == ["a b"], pb
        assert pb["query"]["n"] == ["1"], pb
        assert pb["query"]["off"] == ["o1"], pb
        pid = pb["query"]["pid"][0]
        assert pb["headers"]["webhook-id"] == pid, pb

        c.wait_log("firer-0", "event=attempt postback_id=%s" % pid)
        rc, out, err = c.logview("-d", c.firer_dir(), "--transaction", tx)
        assert rc == 0, (rc, out, err)
        lines = out.splitlines()
        assert len(lines) == 1, out
        cols = lines[0].split("\t")
        assert len(cols) == 13, cols
        (time_, postback_id, attempt, result, http_status, latency, rule,
         type_, offer, publisher, txid, url, error) = cols
        assert time_.endswith("Z") and "T" in time_, time_
        assert postback_id == pid and attempt == "1", cols
        assert result == "ok" and http_status == "200", cols
        assert rule == "aff" and type_ == "conversion", cols
        assert offer == "o1" and publisher == "p1" and txid == tx, cols
        assert url.startswith(recv.url("/pb?tx=" + tx)), url

        statuses = c.stop_all()
        assert all(s == 0 for s in statuses.values()), statuses
    recv.close()


def test_verdicts_and_errors():
    recv = Receiver()
    with cluster_of(config(recv)) as c:
        c.start_all()
        q, _ = click(c, "offer_id=o1&publisher=p1")
        tx = q["tx"][0]
        url = c.base() + "/postback"

        # The offer's own token, by POST this time.
        status, _, body = post_form(url, {"secure": OFFER_TOKEN,
                                          "transaction_id": tx,
                                          "payout": "9.99"})
        assert status == 200 and kv(body)["result"] == "approved", body
        status, _, body = get(url + "?secure=%s&transaction_id=%s"
                              % (GLOBAL, tx))
        assert (status, kv(body).get("reason")) == (200, "duplicate"), body

        # Another offer's token on this click.
        q2, _ = click(c, "offer_id=o1&publisher=p2")
        status, _, body = get(url + "?secure=othertok789&transaction_id=%s"
                              % q2["tx"][0])
        assert kv(body).get("reason") == "token_mismatch", (status, body)

        status, _, body = get(url + "?secure=nope&transaction_id=%s" % tx)
        assert status == 403 and "error=bad_token" in body, (status, body)
        bad = tx[:-1] + ("0" if tx[-1] != "0" else "1")
        status, _, body = get(url + "?secure=%s&transaction_id=%s"
                              % (GLOBAL, bad))
        assert status == 400 and "bad_transaction_id" in body, body
        status, _, body = get(url + "?secure=%s" % GLOBAL)
        assert status == 400 and "name=transaction_id" in body, body
        status, _, body = get(c.base() + "/click?offer_id=nosuch&publisher=p")
        assert status == 404, (status, body)
        status, _, body = get(c.base() + "/click?offer_id=o1")
        assert status == 400 and "name=publisher" in body, (status, body)
        status, _, body = get(c.base() + "/nosuchpath")
        assert status == 404, (status, body)
        status, _, body = post_form(c.base() + "/click", {"offer_id": "o1"})
        assert status == 405, (status, body)

        # Only the first (approved) conversion reached the affiliate.
        pbs = recv.wait_for(1)
        assert pbs[0]["query"]["payout"] == ["9.99"], pbs[0]
        rc, out, _ = c.logview("-d", c.firer_dir(), "--transaction",
                               q2["tx"][0])
        assert rc == 1 and out == "", (rc, out)
        rc, _, err = c.logview("-d", os.path.join(c.dir, "nosuch"))
        assert rc == 2 and err, (rc, err)
        assert all(s == 0 for s in c.stop_all().values())
    assert len(recv.requests) == 1, recv.requests
    recv.close()


def test_clicks_kept_while_matcher_is_down():
    """ingest answers clicks from its spool; the matcher gets them later."""
    recv = Receiver()
    with cluster_of(config(recv)) as c:
        c.start("firer")
        c.start("ingest")
        txs = [click(c, "offer_id=o1&publisher=p%d" % i)[0]["tx"][0]
               for i in range(20)]
        # A conversion while the matcher is down is durable: 202.
        status, _, body = get(c.base() + "/postback?secure=%s"
                              "&transaction_id=%s" % (GLOBAL, txs[0]))
        assert status == 202 and kv(body)["result"] == "accepted", body
        c.start("matcher")
        recv.wait_for(1)
        for tx in txs[1:]:
            status, _, body = get(c.base() + "/postback?secure=%s"
                                  "&transaction_id=%s" % (GLOBAL, tx))
            assert status == 200 and "approved" in body, (status, body)
        got = recv.wait_for(20)
        assert sorted(r["query"]["tx"][0] for r in got) == sorted(txs)
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_matcher_restart_loses_nothing():
    """kill -9 of the matcher between a click and its conversion."""
    recv = Receiver()
    with cluster_of(config(recv)) as c:
        c.start_all()
        tx = click(c, "offer_id=o1&publisher=p1")[0]["tx"][0]
        c.wait_log("ingest-0", "event=ready")
        c.stop("matcher", sig=signal.SIGKILL)
        c.start("matcher")
        status, _, body = get(c.base() + "/postback?secure=%s"
                              "&transaction_id=%s" % (GLOBAL, tx))
        assert status in (200, 202), (status, body)
        got = recv.wait_for(1)
        assert got[0]["query"]["tx"] == [tx]
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_failed_delivery_is_logged():
    recv = Receiver(status=404)
    with cluster_of(config(recv)) as c:
        c.start_all()
        tx = click(c, "offer_id=o1&publisher=p1")[0]["tx"][0]
        get(c.base() + "/postback?secure=%s&transaction_id=%s" % (GLOBAL, tx))
        recv.wait_for(1)
        c.wait_log("firer-0", "result=failed")
        rc, out, _ = c.logview("-d", c.firer_dir(), "--transaction", tx)
        cols = out.splitlines()[0].split("\t")
        assert cols[3] == "failed" and cols[4] == "404", cols
        assert cols[12] == "ok\\n", cols  # first bytes, escaped
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_retry_keeps_postback_id():
    """A 503 is retried on the rule's schedule with the same postback id."""
    answers = [503, 500, 200]
    recv = Receiver(status=lambda entry: answers.pop(0))
    body = config(recv).replace("postback aff on conversion status approved",
                                "postback aff on conversion retry 0,50ms,50ms")
    with cluster_of(body) as c:
        c.start_all()
        tx = click(c, "offer_id=o1&publisher=p1")[0]["tx"][0]
        get(c.base() + "/postback?secure=%s&transaction_id=%s" % (GLOBAL, tx))
        got = recv.wait_for(3)
        pids = {r["query"]["pid"][0] for r in got}
        assert len(pids) == 1, got
        assert [r["query"]["n"][0] for r in got] == ["1", "2", "3"], got
        assert {r["headers"]["webhook-id"] for r in got} == pids, got
        c.wait_log("firer-0", "result=ok")
        rc, out, _ = c.logview("-d", c.firer_dir(), "--transaction", tx)
        rows = [line.split("\t") for line in out.splitlines()]
        assert [(r[2], r[3], r[4]) for r in rows] == [
            ("1", "retry", "503"), ("2", "retry", "500"), ("3", "ok", "200")
        ], rows
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_retry_after_is_honoured():
    answers = [(429, {"Retry-After": "1"}), 200]
    recv = Receiver(status=lambda entry: answers.pop(0))
    body = config(recv).replace("postback aff on conversion status approved",
                                "postback aff on conversion retry 0,10ms")
    with cluster_of(body) as c:
        c.start_all()
        tx = click(c, "offer_id=o1&publisher=p1")[0]["tx"][0]
        get(c.base() + "/postback?secure=%s&transaction_id=%s" % (GLOBAL, tx))
        first, second = recv.wait_for(2)
        assert second["time"] - first["time"] >= 0.9, (first, second)
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_event_rule_with_delay():
    """A named event fires "on event" rules, after the rule's delay."""
    recv = Receiver()
    body = config(recv) + (
        '\npostback ftd on event event ftd delay 700ms '
        'url "%s?tx={transaction_id}&e={event}&st={status}"' %
        recv.url("/ftd"))
    with cluster_of(body) as c:
        c.start_all()
        tx = click(c, "offer_id=o1&publisher=p1")[0]["tx"][0]
        status, _, text = get(c.base() + "/postback?secure=%s"
                              "&transaction_id=%s&event=signup" % (GLOBAL, tx))
        assert status == 200 and "approved" in text, text
        sent = __import__("time").monotonic()
        status, _, text = get(c.base() + "/postback?secure=%s"
                              "&transaction_id=%s&event=ftd" % (GLOBAL, tx))
        assert status == 200 and "approved" in text, text
        got = recv.wait_for(1)
        assert got[0]["path"] == "/ftd", got
        assert got[0]["query"]["e"] == ["ftd"], got
        assert got[0]["query"]["st"] == ["approved"], got
        assert got[0]["time"] - sent >= 0.6, got[0]["time"] - sent
        assert len(recv.requests) == 1, recv.requests
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_firer_down_then_up():
    """Events wait in the matcher's outbox until the firer is back."""
    recv = Receiver()
    with cluster_of(config(recv)) as c:
        c.start("matcher")
        c.start("ingest")
        tx = click(c, "offer_id=o1&publisher=p1")[0]["tx"][0]
        status, _, body = get(c.base() + "/postback?secure=%s"
                              "&transaction_id=%s" % (GLOBAL, tx))
        assert status == 200 and "approved" in body, (status, body)
        c.start("firer")
        assert recv.wait_for(1)[0]["query"]["tx"] == [tx]
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_click_to_affiliate_postback, test_verdicts_and_errors,
          test_clicks_kept_while_matcher_is_down,
          test_matcher_restart_loses_nothing, test_failed_delivery_is_logged,
          test_retry_keeps_postback_id, test_retry_after_is_honoured,
          test_event_rule_with_delay, test_firer_down_then_up])
