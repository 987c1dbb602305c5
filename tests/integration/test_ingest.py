"""ingest at its edges: sizes, methods, limits, its directory lock."""

import os
import subprocess

from harness import (cluster_of, get, http_request, kv, main, post_form,
                     program, run)

CONF = ('global-token g1\n'
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}&ua={param.x}"')


def test_limits():
    with cluster_of(CONF) as c:
        c.start_all()
        base = c.base()
        many = "&".join("p%d=1" % i for i in range(101))
        status, _, body = get(base + "/click?offer_id=o1&publisher=p&" + many)
        assert status == 400 and "too_many_parameters" in body, (status, body)
        status, _, body = get(base + "/click?offer_id=o1&publisher=p&x=" +
                              "a" * 2049)
        assert status == 400 and "value_too_long" in body, (status, body)
        # A long User-Agent is cut, the click still stored and joined.
        status, h, _ = get(base + "/click?offer_id=o1&publisher=p",
                           headers={"User-Agent": "u" * 9000})
        assert status == 302, status
        tx = h["location"].split("t=")[1].split("&")[0]
        status, _, body = get(base + "/postback?secure=g1&transaction_id=%s"
                              "&event=%s" % (tx, "e" * 129))
        assert status == 400 and "name=event" in body, (status, body)
        status, _, body = get(base + "/postback?secure=g1&transaction_id=" +
                              tx)
        assert kv(body).get("result") == "approved", body
        status, _, body = post_form(base + "/postback",
                                    {"secure": "g1", "x": "y" * 70000})
        assert status == 413, (status, body)
        status, _, body = get(base + "/postback?secure=g1&transaction_id=%s"
                              "&payout=abc" % tx)
        assert status == 400 and "bad_amount" in body, (status, body)
        status, _, body = get(base + "/click?offer_id=o1&publisher=p&a=%00")
        assert status == 400, (status, body)
        assert all(s == 0 for s in c.stop_all().values())


def test_methods():
    with cluster_of(CONF) as c:
        c.start_all()
        status, h, _ = http_request("HEAD", c.base() + "/click?offer_id=o1"
                                    "&publisher=p")
        assert status == 405 and h.get("allow") == "GET", (status, h)
        status, _, _ = http_request("HEAD", c.base() + "/healthz")
        assert status == 200, status
        status, h, _ = http_request("PUT", c.base() + "/postback", body="x")
        assert status == 405 and h.get("allow") == "GET, POST", (status, h)
        status, _, body = http_request("POST", c.base() + "/postback",
                                       body="a=b", headers={
                                           "Content-Type": "text/plain"})
        assert status == 415, (status, body)
        status, _, body = get(c.base() + "/impression?offer_id=o1"
                              "&publisher=p")
        assert status == 501, (status, body)
        assert all(s == 0 for s in c.stop_all().values())


def test_one_process_per_directory():
    with cluster_of(CONF) as c:
        c.start("ingest")
        second = subprocess.run([program("ingest"), "-d", "-f", c.conf],
                                capture_output=True, timeout=30)
        assert second.returncode == 1, second
        assert b"in use by another process" in second.stderr, second.stderr
        assert all(s == 0 for s in c.stop_all().values())


if __name__ == "__main__":
    main([test_limits, test_methods, test_one_process_per_directory])
