"""report --postbacks: one row per conversion-type request, refused by
ingest or decided by the matcher, with the secure token never stored."""

import json
import os
import re

from harness import (Receiver, cluster_of, free_port, get, kv, main,
                     program, run)

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
    _, h, _ = get(c.base() + "/click?offer_id=%s&publisher=p1" % offer)
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
            # A /reject names no conversion and keeps no address.
            assert r["ip"] == ("" if path == "/reject" else "127.0.0.1"), r
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
        # The tab-separated listing carries no control character.
        status, out, _ = run([program("report"), "-f", c.conf,
                              "--postbacks"])
        assert status == 0 and len(out.splitlines()) == len(sent)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), out
        assert all(s == 0 for s in c.stop_all().values())
        # No token anywhere: not in the listings, not in any store.
        for secret in (TOKEN, OFFER_TOKEN):
            assert secret not in out
            for root, _, files in os.walk(os.path.join(c.dir, "data")):
                for name in files:
                    with open(os.path.join(root, name), "rb") as f:
                        assert secret.encode() not in f.read(), (
                            secret, root, name)


def scrape(port, name):
    _, _, body = get("http://127.0.0.1:%d/metrics" % port)
    m = re.search(r"^%s (\d+)$" % name, body, re.M)
    return int(m.group(1)) if m else None


def test_refusals_are_capped():
    port = free_port()
    extra = "ingest postbacks-max 300\ningest metrics 127.0.0.1:%d" % port
    recv = Receiver()
    with cluster_of(conf(extra)) as c:
        c.start_all()
        for i in range(1000):
            status, _, _ = get(c.base() + "/postback?secure=bad%d&"
                               "transaction_id=x" % i)
            assert status == 403
            if i % 100 == 0:	# clicks are answered meanwhile
                assert get(c.base() + "/click?offer_id=o1&publisher=p")[
                    0] == 302
        got = rows(c, "--result", "error")
        assert len(got) == 300, len(got)
        # The newest are kept: the last one sent is there.
        assert got[-1]["query"] == "secure=***&transaction_id=x"
        assert scrape(port, "postline_ingest_postbacks_dropped_total") \
            == 700
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_every_kind_of_row, test_refusals_are_capped])
