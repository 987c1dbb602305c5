"""Prometheus /metrics of ingest, matcher and firer."""

import re
import time

from harness import Receiver, cluster_of, free_port, get, main


def scrape(port):
    status, headers, body = get("http://127.0.0.1:%d/metrics" % port)
    assert status == 200, status
    assert headers["content-type"].startswith("text/plain"), headers
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return body, values


def check_lmdb(v):
    """The map's use: some pages, fewer than the map (1 GiB default)."""
    used, size = v["postline_lmdb_map_used_bytes"], \
        v["postline_lmdb_map_size_bytes"]
    assert 0 < used < size, (used, size)
    assert size >= 1 << 30, size
    # Each daemon has committed (its sender id, at least) by now.
    assert v["postline_lmdb_commits_total"] >= 1, v
    assert v["postline_lmdb_syncs_total"] >= 0, v


def test_metrics_of_every_daemon():
    recv = Receiver()
    ports = [free_port() for _ in range(3)]
    body = "\n".join([
        "global-token g1",
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}"',
        'postback aff on conversion url "%s?t={transaction_id}"' %
        recv.url("/aff"),
        "ingest metrics 127.0.0.1:%d" % ports[0],
        "matcher metrics 127.0.0.1:%d" % ports[1],
        "firer metrics 127.0.0.1:%d" % ports[2],
    ])
    with cluster_of(body) as c:
        c.start_all()
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = h["location"].split("t=")[1]
        get(c.base() + "/postback?secure=g1&transaction_id=" + tx)
        get(c.base() + "/postback?secure=bad&transaction_id=" + tx)
        recv.wait_for(1)
        c.wait_log("firer-0", "result=ok")
        text, v = scrape(ports[0])
        assert text.count("# TYPE postline_ingest_hits_total counter") == 1
        assert v['postline_ingest_hits_total{endpoint="click",code="302"}'] \
            == 1, text
        assert v['postline_ingest_hits_total{endpoint="postback",'
                 'code="200"}'] == 1
        assert v['postline_ingest_hits_total{endpoint="postback",'
                 'code="403"}'] == 1
        assert v['postline_ingest_verdict_seconds_count'] == 1
        assert "postline_ingest_spool_bytes" in v
        assert v["postline_ingest_spool_limit_bytes"] > 0
        # Set once a second: the acknowledged click leaves it.
        deadline = time.monotonic() + 5
        while v['postline_ingest_outbox_pending{matcher="0"}'] != 0:
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
            text, v = scrape(ports[0])
        # Times are in seconds: a verdict on loopback takes well under 1.
        assert 0 <= v["postline_ingest_verdict_seconds_sum"] < 1, text
        assert 'postline_ingest_verdict_seconds_bucket{le="0.0005"}' in v
        assert 'postline_ingest_verdict_seconds_bucket{le="10"}' in v
        check_lmdb(v)
        _, v = scrape(ports[1])
        assert v['postline_matcher_hits_total{kind="click"}'] == 1
        assert v['postline_matcher_verdicts_total{result="approved",'
                 'reason=""}'] == 1
        assert v['postline_matcher_join_seconds_bucket{le="+Inf"}'] == 2
        check_lmdb(v)
        text, v = scrape(ports[2])
        assert v['postline_firer_attempts_total{rule="aff",result="ok"}'] == 1
        assert v['postline_firer_attempt_seconds_count'] == 1
        assert v["postline_firer_overdue_seconds"] == 0
        check_lmdb(v)
        assert re.search(r'postline_firer_in_flight\{host="127.0.0.1:\d+"\} 0',
                         text), text
        status, _, _ = get("http://127.0.0.1:%d/nosuch" % ports[2])
        assert status == 404
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_metrics_of_every_daemon])
