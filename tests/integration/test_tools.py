"""The operator's helpers: ingest -L (golden files) and firer -t."""

import os
import subprocess

from harness import (SOURCE, Receiver, cluster_of, get, kv, main, program,
                     run)

GOLDEN = os.path.join(SOURCE, "tests", "golden")


def test_links_match_golden_files():
    conf = os.path.join(GOLDEN, "links.conf")
    for args, golden in (([], "links-account.txt"),
                         (["o1"], "links-o1.txt")):
        rc, out, err = run([program("ingest"), "-L", "-f", conf] + args)
        assert rc == 0, (rc, err)
        with open(os.path.join(GOLDEN, golden)) as f:
            assert out == f.read(), out
        # The global token goes to advertisers only, never publishers.
        for line in out.splitlines():
            if line.startswith("tracking_link"):
                assert "GLOB" not in line and "OFF1" not in line, line
    rc, _, err = run([program("ingest"), "-L", "-f", conf, "nosuch"])
    assert rc == 1 and "nosuch" in err, (rc, err)
    rc, _, err = run([program("ingest"), "-L", "-f", conf, "o1", "o2"])
    assert rc == 2 and "usage" in err, (rc, err)


def write_conf(recv, path):
    with open(path, "w") as f:
        f.write("\n".join([
            'offer o1 url "http://127.0.0.1:9/?t={transaction_id}"',
            'postback aff on conversion offer o1 url "%s?t={transaction_id}'
            '&p={payout}&pub={publisher}"' % recv.url("/aff"),
            'postback crm on conversion method post header "X-Api-Key: '
            'abcdef123456" body "payout={payout}" url "%s"' %
            recv.url("/crm"),
        ]) + "\n")


def test_test_fire(tmp="/tmp/postline-testfire.conf"):
    answers = {"/aff": 200, "/crm": 500}
    recv = Receiver(status=lambda e: answers[e["path"]])
    write_conf(recv, tmp)
    rc, out, err = run([program("firer"), "-t", "aff", "-f", tmp,
                        "payout=9.99"])
    assert rc == 0, (rc, out, err)
    got = recv.wait_for(1)[0]
    assert got["query"]["p"] == ["9.99"], got
    assert got["query"]["pub"] == ["test-publisher"], got
    assert out.startswith("GET %s?t=" % recv.url("/aff")), out
    assert "-> 200" in out and "webhook-id: " in out, out
    rc, out, err = run([program("firer"), "-t", "crm", "-f", tmp])
    assert rc == 1 and "-> 500" in out, (rc, out)
    assert "abcdef... (masked)" in out and "abcdef123456" not in out, out
    assert recv.wait_for(2)[1]["body"] == b"payout=5.00"
    rc, out, err = run([program("firer"), "-t", "crm", "--dry-run", "-f",
                        tmp])
    assert rc == 0 and out.startswith("POST "), (rc, out)
    assert len(recv.requests) == 2, recv.requests
    rc, _, err = run([program("firer"), "-t", "nosuch", "-f", tmp])
    assert rc == 2 and "nosuch" in err, (rc, err)
    rc, _, err = run([program("firer"), "-t", "aff", "-f", tmp, "x=1"])
    assert rc == 2, (rc, err)
    os.unlink(tmp)
    recv.close()


def test_links_work_as_printed():
    """Paste what ingest -L prints, and it works."""
    with cluster_of("global-token G1\n"
                    'offer o1 url "http://127.0.0.1:9/?t={transaction_id}" '
                    "token T1\nalias o1 clickId transaction_id") as c:
        with open(c.conf, "a") as f:
            f.write("ingest public-url %s\n" % c.base())
        rc, out, err = run([program("ingest"), "-L", "-f", c.conf, "o1"])
        assert rc == 0, err
        links = dict(line.split("\t", 1) for line in out.splitlines())
        c.start_all()
        click = links["tracking_link"].replace("{publisher}", "p1")
        click = click.replace("{sub_id}", "s1").replace(
            "{external_transaction_id}", "x1")
        status, h, _ = get(click)
        assert status == 302, status
        tx = h["location"].split("t=")[1]
        for name, want in (("postback_offer", "approved"),
                           ("reject_global", "rejected")):
            status, _, body = get(links[name].replace("REPLACE", tx))
            assert status == 200 and kv(body)["result"] == want, (name, body)
        status, _, body = get(links["clickless_offer"].replace(
            "{publisher}", "p2"))
        assert kv(body)["result"] == "approved", body
        assert all(v == 0 for v in c.stop_all().values())


if __name__ == "__main__":
    main([test_links_match_golden_files, test_links_work_as_printed,
          test_test_fire])
