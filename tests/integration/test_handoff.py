"""The hand-off protocol seen from the wire: a hostile or broken sender
talks ZeroMQ to the matcher (or a firer) directly."""

import os
import shutil
import signal
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import zmq

from harness import (Receiver, cluster_of, free_port, get, kv, main,
                     metric)

MSG_HITS, MSG_EVENTS, MSG_ACK, MSG_REPLY = 1, 2, 3, 4
WIRE_VERSION = 1
RECORD_VERSION = 1
EVENT_CONVERSION, STATUS_APPROVED = 3, 1


def wire_str(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b


def batch(sender, seq, records, base=None, kind=MSG_HITS):
    head = struct.pack(">BB", WIRE_VERSION, kind) + wire_str(sender)
    head += struct.pack(">QI", seq, len(records))
    head += struct.pack(">Q", seq if base is None else base)
    return head + b"".join(struct.pack(">I", len(r)) + r for r in records)


def read_ack(sock, want):
    """Wait until an ack (or a reply, which the matcher sends for each
    batch at once, before its sync acknowledges it) says want; one that
    acknowledges more fails."""
    deadline = time.monotonic() + 10
    while sock.poll(max(0, deadline - time.monotonic()) * 1000):
        msg = sock.recv()
        version, kind = struct.unpack(">BB", msg[:2])
        n = struct.unpack(">I", msg[2:6])[0]
        seq = struct.unpack(">Q", msg[6 + n:14 + n])[0]
        assert version == WIRE_VERSION and kind in (MSG_ACK, MSG_REPLY), msg
        assert seq <= want, (seq, want)
        if seq == want:
            return
    raise AssertionError("no ack of %d" % want)


def event(tx, ms, attrs):
    out = struct.pack(">BBBq", RECORD_VERSION, EVENT_CONVERSION,
                      STATUS_APPROVED, ms) + wire_str(tx)
    out += struct.pack(">H", len(attrs))
    for name, value in attrs.items():
        out += b"\x00" + wire_str(name) + wire_str(value)
    return out


def dealer(c, identity, to="matcher-0"):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.ROUTING_ID, identity.encode())
    s.connect("ipc://%s/%s.sock" % (c.dir, to))
    return s


CONF = ('global-token g1\noffer o1 url "http://127.0.0.1:9/?t={transaction_id}"'
        '\npostback aff on conversion url "%s?t={transaction_id}"')


def test_undecodable_batch_is_kept_and_acked():
    recv = Receiver()
    with cluster_of(CONF % recv.url("/pb")) as c:
        c.start_all()
        s = dealer(c, "evil-0/0000000000000000")
        s.send(batch("evil-0/0000000000000000", 1, [b"\x01garbage"]))
        read_ack(s, 1)
        c.wait_log("matcher-0", "event=dead_letter sender=evil-0/")
        # A resend of the same batch is a duplicate: acked, not kept again.
        s.send(batch("evil-0/0000000000000000", 1, [b"\x01garbage"]))
        read_ack(s, 1)
        assert c.log_text("matcher-0").count("event=dead_letter") == 1
        # A truncated envelope gets no ack and changes nothing.
        s.send(b"\x01\x01\x00")
        # The real stream goes on.
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = h["location"].split("t=")[1]
        status, _, body = get(c.base() + "/postback?secure=g1"
                              "&transaction_id=" + tx)
        assert status == 200 and kv(body)["result"] == "approved", body
        assert recv.wait_for(1)[0]["query"]["t"] == [tx]
        s.close()
        assert all(v == 0 for v in c.stop_all().values())
    recv.close()


def test_gap_is_refused_and_base_is_taken_up():
    with cluster_of(CONF % "http://127.0.0.1:9/") as c:
        c.start("matcher")
        s = dealer(c, "probe-0/0000000000000001")
        # A new sender starting at 5 (it holds nothing below): taken up.
        s.send(batch("probe-0/0000000000000001", 5, [b"\x01x"]))
        read_ack(s, 5)
        # 7 before 6: refused; the ack says where the receiver is.
        s.send(batch("probe-0/0000000000000001", 7, [b"\x01x"], base=6))
        read_ack(s, 5)
        s.close()
        assert all(v == 0 for v in c.stop_all().values())


def test_event_received_again_keeps_its_postback_id():
    """A firer that lost what it had not synced yet (a power cut: here its
    data directory is wiped) gets the event again from its matcher: the
    postback goes again, with the same postback_id."""
    recv = Receiver()
    conf = ('offer o1 url "http://127.0.0.1:9/?t={transaction_id}"\n'
            'postback aff on conversion url "%s?t={transaction_id}'
            '&id={postback_id}"' % recv.url("/pb"))
    sender = "matcher-0/00000000000000aa"
    msg = batch(sender, 1, [event("0" * 32, 1795000000123,
                                  {"offer_id": "o1"})], kind=MSG_EVENTS)
    with cluster_of(conf) as c:
        ids = []
        for _ in range(2):
            c.start("firer")
            s = dealer(c, sender, "firer-0")
            s.send(msg)
            read_ack(s, 1)
            ids.append(recv.wait_for(len(ids) + 1)[-1]["query"]["id"][0])
            s.close()
            assert c.stop("firer") == 0
            shutil.rmtree(os.path.join(c.dir, "data", "firer-0"))
        assert ids[0] == ids[1] and len(ids[0]) == 32, ids
    recv.close()


def commits_while_catching_up(proc, port, send, settled):
    """Stop proc (SIGSTOP: a shard or firer that has fallen behind), run
    send() meanwhile, let it go on, wait for settled(); return the store
    commits proc made from its stop to then.  The counter is set once a
    second, hence the waits."""
    time.sleep(1.1)
    before = metric(port, "postline_lmdb_commits_total")
    proc.send_signal(signal.SIGSTOP)
    try:
        send()
    finally:
        proc.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 20
    while not settled():
        assert time.monotonic() < deadline, "never caught up"
        time.sleep(0.05)
    time.sleep(1.1)
    return metric(port, "postline_lmdb_commits_total") - before


def test_a_shard_behind_takes_fewer_larger_batches():
    """While a matcher is stopped, the hits wait in the ingest's spool:
    the matcher catches up on 300 clicks, sent one at a time, in a few
    transactions, not one per click or per ingest group."""
    ports = [free_port(), free_port()]
    body = CONF % "http://127.0.0.1:9/" + (
        "\ningest metrics 127.0.0.1:%d\nmatcher metrics 127.0.0.1:%d" %
        tuple(ports))
    with cluster_of(body) as c:
        c.start_all()
        n = 300

        def send():
            for i in range(n):
                status, _, _ = get(c.base() + "/click?offer_id=o1&"
                                   "publisher=p&sub_id=%d" % i)
                assert status == 302, status

        def settled():
            return metric(ports[0], "postline_ingest_spool_records") == 0
        commits = commits_while_catching_up(c.procs["matcher-0"],
                                            ports[1], send, settled)
        print("matcher commits for %d clicks sent one by one: %d" % (
            n, commits))
        # One per click would be n; the ingest syncs and sends clicks in
        # groups, and the matcher takes up to 16 messages at once.
        assert 1 <= commits <= 10, commits


def test_a_firer_behind_takes_fewer_larger_batches():
    """While a firer is stopped, its events wait in the matcher's outbox;
    it catches up on 200 conversions' events in a few transactions, not
    one per event.  The rule's delay keeps the deliveries in the schedule,
    so that only the intake is counted."""
    ports = [free_port(), free_port()]
    body = CONF % "http://127.0.0.1:9/" + (
        " delay 1h\nmatcher metrics 127.0.0.1:%d\n"
        "firer metrics 127.0.0.1:%d" % tuple(ports))
    with cluster_of(body) as c:
        c.start_all()
        n = 200
        txs = []
        for i in range(n):
            _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p&"
                          "sub_id=%d" % i)
            txs.append(h["location"].split("t=")[1])

        def convert(tx):
            status, _, text = get(c.base() + "/postback?secure=g1&"
                                  "transaction_id=" + tx)
            assert status == 200 and "result=approved" in text, (status,
                                                                  text)

        def send():
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(convert, txs))

        def settled():
            return metric(ports[1], "postline_firer_scheduled") == n
        commits = commits_while_catching_up(c.procs["firer-0"], ports[1],
                                            send, settled)
        print("firer commits for %d conversions' events: %d" % (n, commits))
        assert metric(ports[0], 'postline_matcher_outbox_pending{firer="0"}'
                      ) == 0
        # One per event would be n, one per message of the matcher (a
        # batch per sync) several.
        assert 1 <= commits <= 5, commits

if __name__ == "__main__":
    main([test_undecodable_batch_is_kept_and_acked,
          test_gap_is_refused_and_base_is_taken_up,
          test_event_received_again_keeps_its_postback_id,
          test_a_shard_behind_takes_fewer_larger_batches,
          test_a_firer_behind_takes_fewer_larger_batches])
