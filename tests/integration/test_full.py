"""A full LMDB map in ingest and in the firer: back-pressure and a clear
log line, no corruption, recovery once there is room."""

import time

from harness import Receiver, cluster_of, get, kv, main


def conf(recv, extra):
    return "\n".join([
        "global-token g1",
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}"',
        'postback aff on conversion url "%s?t={transaction_id}"'
        % recv.url("/aff"),
        extra,
    ])


def click(c):
    status, h, body = get(c.base() + "/click?offer_id=o1&publisher=p")
    return status, (h.get("location", "").split("t=") + [""])[1], body


def test_ingest_map_full():
    recv = Receiver()
    with cluster_of(conf(recv, "ingest map-size 1M")) as c:
        c.start("firer")
        c.start("ingest")
        answered = []
        for _ in range(20000):
            status, tx, body = click(c)
            if status != 302:
                assert status == 503 and "error=" in body, (status, body)
                break
            answered.append(tx)
        else:
            raise AssertionError("the map never filled")
        assert get(c.base() + "/healthz")[0] == 503
        c.wait_log("ingest-0", "event=spool_refused")
        c.start("matcher")
        deadline = time.monotonic() + 30
        while get(c.base() + "/healthz")[0] != 200:
            assert time.monotonic() < deadline, c.log_text("ingest-0")[-2000:]
            time.sleep(0.2)
        # Every click answered before the map filled was kept (a 503
        # says: retry, as an advertiser's server would).
        for tx in (answered[0], answered[len(answered) // 2], answered[-1]):
            while True:
                status, _, body = get(c.base() + "/postback?secure=g1"
                                      "&transaction_id=" + tx)
                if status != 503:
                    break
                assert time.monotonic() < deadline, body
                time.sleep(0.2)
            assert kv(body).get("result") == "approved", (tx, body)
        assert click(c)[0] == 302
        assert all(v == 0 for v in c.stop_all().values())
    recv.close()


def test_firer_map_full():
    recv = Receiver()
    with cluster_of(conf(recv, "firer map-size 1M")) as c:
        c.start_all()
        txs = []
        while "event=store_full" not in c.log_text("firer-0"):
            for _ in range(100):
                status, tx, _ = click(c)
                get(c.base() + "/postback?secure=g1&transaction_id=" + tx)
                txs.append(tx)
            assert len(txs) < 5000, "the firer's map never filled"
        # Room: a bigger map, and everything answered is delivered.
        c.edit_conf("firer map-size 1M", "firer map-size 64M")
        assert c.stop("firer") == 0
        c.start("firer")
        deadline = time.monotonic() + 60
        while not set(txs) <= {r["query"]["t"][0] for r in recv.requests}:
            assert time.monotonic() < deadline, "deliveries missing"
            time.sleep(0.2)
        assert all(v == 0 for v in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_ingest_map_full, test_firer_map_full])
