"""ingest at its edges: sizes, methods, limits, its directory lock."""

import signal
import socket
import struct
import subprocess
import threading
import time

import wire

from harness import (Receiver, cluster_of, free_port, get, http_request, kv,
                     main, metric, post_form, program)

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
                           headers={"User-Agent": "u" * 5000})
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
        for bad in ("%zz", "%", "%4", "a%G1"):
            status, _, body = get(base + "/click?offer_id=o1&publisher=p"
                                  "&sub_id=" + bad)
            assert status == 400 and "malformed" in body, (bad, status)
        # An id of a shard this ingest does not know: retry later.
        status, _, body = get(base + "/postback?secure=g1&transaction_id=" +
                              wire.txid(shard=5))
        assert status == 503 and "unknown_shard" in body, (status, body)
        status, h, _ = get(base + "/click?offer_id=o1&publisher=p&x=a+b%2B")
        assert status == 302 and "ua=a%20b%2B" in h["location"], h
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
        assert all(s == 0 for s in c.stop_all().values())


def test_one_process_per_directory():
    with cluster_of(CONF) as c:
        c.start("ingest")
        second = subprocess.run([program("ingest"), "-d", "-f", c.conf],
                                capture_output=True, timeout=30)
        assert second.returncode == 1, second
        assert b"in use by another process" in second.stderr, second.stderr
        assert all(s == 0 for s in c.stop_all().values())


def test_instances_on_one_host_share_the_address():
    """Two ingests reading the one config file on one host: both bind
    its listen address (SO_REUSEPORT) and take clicks, each serves its
    metrics on the port plus its instance number, and when one stops
    the other takes every click."""
    while True:
        mport = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", mport + 1))
            break
        except OSError:
            continue

    def clicks_of(instance):
        _, _, body = get("http://127.0.0.1:%d/metrics" % (mport + instance))
        for line in body.splitlines():
            if line.startswith('postline_ingest_hits_total{endpoint="click"'
                               ',code="302"}'):
                return int(line.split()[-1])
        return 0

    with cluster_of(CONF + "\ningest metrics 127.0.0.1:%d\n" % mport) as c:
        c.start("matcher")
        c.start("ingest", 0)
        c.start("ingest", 1)
        url = c.base() + "/click?offer_id=o1&publisher=p"
        for _ in range(64):	# a new connection each: the kernel spreads
            assert get(url)[0] == 302
        served = [clicks_of(0), clicks_of(1)]
        assert sum(served) == 64 and min(served) > 0, served
        assert c.stop("ingest", 0) == 0
        for _ in range(8):
            assert get(url)[0] == 302
        assert clicks_of(1) == served[1] + 8
        assert all(s == 0 for s in c.stop_all().values())


GIF_LEN = 43


def rules(recv):
    return "\n".join([
        "global-token g1",
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}" token ot1'
        ' payout 1.25',
        'offer o2 url "http://127.0.0.1:9/?t={transaction_id}"',
        "alias * clickId transaction_id",
        "alias o1 earning payout",
        "alias o1 st status",
        'postback conv on conversion status any url "%s?t={transaction_id}'
        '&st={status}&r={reason}&p={payout}&ip={click_ip}&o={offer_id}'
        '&pub={publisher}&x={param.x}"' % recv.url("/conv"),
        'postback imp on impression url "%s?t={transaction_id}&o={offer_id}"'
        % recv.url("/imp"),
    ])


def txid_of(headers):
    return headers["location"].split("t=")[1]


def test_impression_and_pixel_answer_the_gif():
    recv = Receiver()
    with cluster_of(rules(recv)) as c:
        c.start_all()
        status, h, body = http_request("GET", c.base() +
                                       "/impression?offer_id=o1&publisher=p")
        assert status == 200 and h["content-type"] == "image/gif", h
        assert int(h["content-length"]) == GIF_LEN, h
        imp = recv.wait_for(1)[0]
        assert imp["path"] == "/imp" and imp["query"]["o"] == ["o1"], imp
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = txid_of(h)
        status, h, _ = get(c.base() + "/pixel?secure=nope&transaction_id=" + tx)
        assert status == 200 and h["content-type"] == "image/gif", status
        status, h, _ = get(c.base() + "/pixel?secure=ot1&transaction_id=" + tx)
        assert status == 200 and h["content-type"] == "image/gif", status
        conv = recv.wait_for(2)[1]
        assert conv["path"] == "/conv" and conv["query"]["t"] == [tx], conv
        c.wait_log("ingest-0", "event=pixel result=refused status=403")
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_clickless_then_reject():
    recv = Receiver()
    with cluster_of(rules(recv)) as c:
        c.start_all()
        status, _, body = post_form(c.base() + "/clickless", {
            "secure": "g1", "offer_id": "o2", "publisher": "pub9",
            "payout": "3", "x": "extra"})
        assert status == 200 and kv(body)["result"] == "approved", body
        tx = kv(body)["transaction_id"]
        assert len(tx) == 32, tx
        first = recv.wait_for(1)[0]["query"]
        assert first["st"] == ["approved"] and first["pub"] == ["pub9"], first
        assert first["x"] == ["extra"] and first["p"] == ["3"], first
        status, _, body = get(c.base() + "/reject?secure=g1&transaction_id=%s"
                              "&reason=fraud%%20check" % tx)
        assert status == 200, (status, body)
        assert kv(body)["result"] == "rejected", body
        assert 'reason="fraud check"' in body, body
        second = recv.wait_for(2)[1]["query"]
        assert second["st"] == ["rejected"], second
        assert second["r"] == ["fraud check"], second
        status, _, body = get(c.base() + "/reject?secure=g1&transaction_id=" +
                              tx)
        assert kv(body).get("reason") == "duplicate", body
        # An offer's token only for its own offer.
        status, _, body = get(c.base() + "/clickless?secure=ot1&offer_id=o2")
        assert kv(body).get("reason") == "token_mismatch", body
        status, _, body = get(c.base() + "/clickless?secure=g1&offer_id=zz")
        assert status == 404, (status, body)
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_reject_and_status_transitions():
    recv = Receiver()
    with cluster_of(rules(recv)) as c:
        c.start_all()
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = txid_of(h)
        url = c.base() + "/postback?secure=g1&transaction_id=" + tx
        status, _, body = get(c.base() + "/reject?secure=g1&transaction_id=" +
                              tx)
        assert kv(body).get("reason") == "invalid_transition", body
        assert kv(get(url + "&status=pending")[2])["result"] == "pending"
        assert kv(get(url + "&status=approved")[2])["result"] == "approved"
        body = get(url + "&status=pending")[2]
        assert kv(body).get("reason") == "invalid_transition", body
        body = get(url + "&status=rejected&reason=chargeback")[2]
        assert kv(body) == {"result": "rejected", "reason": "chargeback",
                            "transaction_id": tx}, body
        # One delivery per status reached (sent concurrently).
        got = recv.wait_for(3)
        assert sorted(r["query"]["st"][0] for r in got) == [
            "approved", "pending", "rejected"], got
        # The answer is valid UTF-8 whatever bytes the reason held: a
        # Latin-1 byte is escaped, well-formed UTF-8 kept.
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        body = get(c.base() + "/postback?secure=g1&transaction_id=%s"
                   "&status=rejected&reason=%%E9t%%C3%%A9" % txid_of(h))[2]
        assert 'reason="\\xe9t\u00e9"' in body and "\ufffd" not in body, body
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_aliases_and_extras():
    recv = Receiver()
    with cluster_of(rules(recv)) as c:
        c.start_all()
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p&x=hello")
        tx = txid_of(h)
        # The offer's token unlocks the offer's aliases (earning -> payout).
        status, _, body = get(c.base() + "/postback?secure=ot1&clickId=%s"
                              "&earning=7.5" % tx)
        assert status == 200 and kv(body)["result"] == "approved", body
        got = recv.wait_for(1)[0]["query"]
        assert got["p"] == ["7.5"] and got["x"] == ["hello"], got
        # With the global token the matcher applies them, from the click's
        # offer: a status change named by an alias too.
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = txid_of(h)
        url = c.base() + "/postback?secure=g1&clickId=" + tx
        body = get(url + "&earning=8.25&st=pending")[2]
        assert kv(body)["result"] == "pending", body
        body = get(url + "&st=approved")[2]
        assert kv(body)["result"] == "approved", body
        assert kv(get(url + "&earning=x&st=rejected")[2]).get("reason") \
            == "malformed"
        got = sorted((r["query"]["st"][0], r["query"]["p"][0])
                     for r in recv.wait_for(3)[1:])
        assert got == [("approved", "8.25"), ("pending", "8.25")], got
        time.sleep(0.3)
        assert len(recv.requests) == 3, recv.requests
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_trusted_proxy_sets_client_ip():
    recv = Receiver()
    body = rules(recv) + "\ningest trust-proxy 127.0.0.0/8"
    with cluster_of(body) as c:
        c.start_all()
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p", headers={
            "X-Forwarded-For": "198.51.100.7, 203.0.113.9, 127.0.0.5"})
        tx = txid_of(h)
        get(c.base() + "/postback?secure=g1&transaction_id=" + tx)
        assert recv.wait_for(1)[0]["query"]["ip"] == ["203.0.113.9"]
        assert all(s == 0 for s in c.stop_all().values())
    with cluster_of(rules(recv)) as c:       # not trusted: the peer
        c.start_all()
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p", headers={
            "X-Forwarded-For": "203.0.113.9"})
        get(c.base() + "/postback?secure=g1&transaction_id=" + txid_of(h))
        assert recv.wait_for(2)[1]["query"]["ip"] == ["127.0.0.1"]
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_crlf_never_reaches_a_header():
    with cluster_of(rules(Receiver())) as c:
        c.start_all()
        status, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p%0D%0A"
                           "Set-Cookie:%20x=1")
        assert status == 302 and "set-cookie" not in h, h
        assert all(s == 0 for s in c.stop_all().values())


def test_spool_full_answers_503_then_recovers():
    recv = Receiver()
    with cluster_of(rules(recv) + "\ningest spool-max 2K") as c:
        c.start("firer")
        c.start("ingest")
        codes = []
        for i in range(40):
            status, _, body = get(c.base() + "/click?offer_id=o1&publisher=p")
            codes.append(status)
            if status == 503:
                assert "error=spool_full" in body, body
                break
        assert codes[0] == 302 and codes[-1] == 503, codes
        assert get(c.base() + "/healthz")[0] == 503
        c.wait_log("ingest-0", "event=spool_refused reason=spool_full")
        c.start("matcher")
        deadline = time.monotonic() + 20
        while get(c.base() + "/healthz")[0] != 200:
            assert time.monotonic() < deadline, c.log_text("ingest-0")
            time.sleep(0.1)
        assert get(c.base() + "/click?offer_id=o1&publisher=p")[0] == 302
        assert c.log_text("ingest-0").count("event=spool_refused") == 1
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_kill_ingest_after_answers():
    """What ingest answered survives its kill -9 and reaches the matcher."""
    recv = Receiver()
    with cluster_of(rules(recv)) as c:
        c.start("firer")
        c.start("ingest")
        txs = [txid_of(get(c.base() + "/click?offer_id=o1&publisher=p")[1])
               for _ in range(10)]
        c.stop("ingest", sig=signal.SIGKILL)
        c.start("matcher")
        c.start("ingest")
        for tx in txs:
            body = get(c.base() + "/postback?secure=g1&transaction_id=" +
                       tx)[2]
            assert kv(body).get("result") == "approved", body
        assert len(recv.wait_for(10)) == 10
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def raw(port, data, timeout=10):
    """Send raw bytes; return the status line's code (0 if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        reply = b""
        try:
            while b"\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    parts = reply.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def test_oversize_and_slow_clients():
    with cluster_of(CONF) as c:
        c.start_all()
        status = raw(c.port, b"GET /click?x=" + b"a" * 40000 +
                     b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 414, status
        headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200)
                           for i in range(300))
        status = raw(c.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                     headers + b"\r\n")
        assert status == 431, status
        assert raw(c.port, b"BLAH\r\n\r\n") in (0, 400), "bad request line"
        # Query parameters that would overflow a connection's memory are
        # refused at once (libmicrohttpd 0.9.75 alone left the client
        # waiting for the 30 s timeout).
        many = "&".join("%d=" % i for i in range(150))
        status, _, body = get(c.base() + "/click?offer_id=o1&" + many)
        assert status == 400 and "too_many_parameters" in body, (status, body)
        long = "&".join("%d=%s" % (i, "v" * 40) for i in range(98))
        status, _, body = get(c.base() + "/click?offer_id=o1&publisher=p&" +
                              long)
        assert status == 414 and "uri_too_long" in body, (status, body)
        fits = "&".join("%d=%s" % (i, "v" * 10) for i in range(60))
        status, _, _ = get(c.base() + "/click?offer_id=o1&publisher=p&" +
                           fits)
        assert status == 302, status
        # Slow clients hold connections; real clicks are still answered.
        slow = []
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", c.port))
            s.sendall(b"GET /click?offer_id=o1&publisher=p HTTP/1.1\r\nX-")
            slow.append(s)
        for _ in range(20):
            status, _, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
            assert status == 302, status
        for s in slow:
            s.close()
        assert all(v == 0 for v in c.stop_all().values())


def test_no_hit_stored_that_cannot_be_answered():
    """Near the 8 KiB a connection may use, the answer's header (with a
    long Location) may not fit beside the request: such a request must be
    refused 414/431 before it is stored, never stored and then closed
    unanswered (libmicrohttpd's "failed to create response header")."""
    port = free_port()
    conf = (CONF + '\noffer long url "http://127.0.0.1:9/?t={transaction_id}'
            '&z=%s"\nmatcher metrics 127.0.0.1:%d' % ("z" * 3000, port))
    with cluster_of(conf) as c:
        c.start_all()
        answers = {}
        status, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = h["location"].split("t=")[1].split("&")[0]
        # A header growing by 8 bytes across the limit, for a click whose
        # Location is 3 KB, and a cookie for a postback (a short answer).
        for pad in range(4000, 5000, 8):
            status = raw(c.port, b"GET /click?offer_id=long&publisher=p "
                         b"HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                         b"p" * pad + b"\r\n\r\n")
            answers.setdefault(("click", status), 0)
            answers[("click", status)] += 1
        for cookie in range(3300, 4000, 8):
            status = raw(c.port, b"GET /postback?secure=g1&status=pending"
                         b"&transaction_id=" + tx.encode() +
                         b" HTTP/1.1\r\nHost: x\r\nCookie: " +
                         b"c" * cookie + b"\r\n\r\n")
            answers.setdefault(("postback", status), 0)
            answers[("postback", status)] += 1
        deadline = time.time() + 10
        while time.time() < deadline:
            clicks = metric(port, 'postline_matcher_hits_total{kind="click"}')
            postbacks = metric(port,
                               'postline_matcher_hits_total{kind="postback"}')
            if clicks >= 1 + answers[("click", 302)] and \
                    postbacks >= answers[("postback", 200)]:
                break
            time.sleep(0.2)
        time.sleep(0.5)  # anything stored but unanswered arrives too
        assert metric(port, 'postline_matcher_hits_total{kind="click"}') == \
            1 + answers[("click", 302)], answers
        assert metric(port, 'postline_matcher_hits_total{kind="postback"}') \
            == answers[("postback", 200)], answers
        # The sweep crossed the limit, and every answer was one of these.
        assert set(s for _, s in answers) <= {0, 200, 302, 414, 431}, answers
        assert answers.get(("click", 302)) and answers.get(("click", 431)), \
            answers
        assert answers.get(("postback", 200)) and \
            answers.get(("postback", 431)), answers
        assert all(v == 0 for v in c.stop_all().values())


def test_clients_gone_while_clicks_wait():
    """A click waits for its group commit in the HTTP thread; a client that
    resets the connection meanwhile must not take the request from under
    the spool (ASan would see it), and nothing else stops."""
    req = b"GET /click?offer_id=o1&publisher=p HTTP/1.1\r\nHost: x\r\n\r\n"

    def burst():
        for _ in range(250):
            s = socket.create_connection(("127.0.0.1", c.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.sendall(req * 3)
            s.close()

    with cluster_of(CONF) as c:
        c.start_all()
        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for _ in range(20):
            assert get(c.base() + "/click?offer_id=o1&publisher=p")[0] == 302
        assert all(v == 0 for v in c.stop_all().values())


if __name__ == "__main__":
    main([test_limits, test_methods, test_one_process_per_directory,
          test_impression_and_pixel_answer_the_gif,
          test_clickless_then_reject, test_reject_and_status_transitions,
          test_aliases_and_extras, test_trusted_proxy_sets_client_ip,
          test_crlf_never_reaches_a_header,
          test_spool_full_answers_503_then_recovers,
          test_kill_ingest_after_answers, test_oversize_and_slow_clients,
          test_clients_gone_while_clicks_wait,
          test_no_hit_stored_that_cannot_be_answered,
          test_instances_on_one_host_share_the_address])
