"""The wire format of common/wire.h and common/record.h, and the
transaction id of common/txid.h, for tests that talk to a daemon
directly over ZeroMQ."""

import os
import struct
import time

import zmq

WIRE_VERSION = 1
RECORD_VERSION = 1
MSG_HITS, MSG_EVENTS, MSG_ACK, MSG_REPLY = 1, 2, 3, 4
HIT_CLICK, HIT_IMPRESSION, HIT_POSTBACK = 1, 2, 3
HIT_PIXEL, HIT_CLICKLESS, HIT_REJECT = 4, 5, 6
VERDICT_NAMES = {1: "stored", 2: "approved", 3: "pending", 4: "rejected",
                 5: "accepted"}
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(value, width):
    out = ""
    for _ in range(width):
        out = DIGITS[value % 36] + out
        value //= 36
    return out


def txid(shard=0, ms=None):
    """A valid transaction id: time, shard, random, check."""
    ms = int(time.time() * 1000) if ms is None else ms
    body = base36(ms, 9) + base36(shard, 2)
    body += "".join(DIGITS[b % 36] for b in os.urandom(17))
    h = 0xcbf29ce484222325
    for ch in body.encode():
        h = ((h ^ ch) * 0x100000001b3) & 0xffffffffffffffff
    return body + base36(h % 36 ** 4, 4)


def wstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def hit(kind, tx, attrs, ms=None):
    ms = int(time.time() * 1000) if ms is None else ms
    out = struct.pack(">BBq", RECORD_VERSION, kind, ms) + wstr(tx)
    out += struct.pack(">H", len(attrs))
    for name, value in attrs.items():
        out += b"\x00" + wstr(name) + wstr(value)   # a name by its text
    return out


def batch(kind, sender, seq, records, base=None):
    out = struct.pack(">BB", WIRE_VERSION, kind) + wstr(sender)
    out += struct.pack(">QIQ", seq, len(records), seq if base is None
                       else base)
    return out + b"".join(struct.pack(">I", len(r)) + r for r in records)


def parse_ack(msg):
    """(highest seq applied, [(seq, result name, reason, txid)]) of an
    ack or a reply (an ack that answers one batch)."""
    version, kind = struct.unpack(">BB", msg[:2])
    assert version == WIRE_VERSION and kind in (MSG_ACK, MSG_REPLY), msg
    off = 2
    n = struct.unpack(">I", msg[off:off + 4])[0]
    off += 4 + n
    seq, count = struct.unpack(">QI", msg[off:off + 12])
    off += 12
    verdicts = []
    for _ in range(count):
        _, vseq, result = struct.unpack(">BQB", msg[off:off + 10])
        off += 10
        fields = []
        for _ in range(2):
            n = struct.unpack(">I", msg[off:off + 4])[0]
            fields.append(msg[off + 4:off + 4 + n].decode())
            off += 4 + n
        verdicts.append((vseq, VERDICT_NAMES[result], fields[0], fields[1]))
    return seq, verdicts


class Sender:
    """A fake ingest: a DEALER to one matcher, with its own sequence."""

    def __init__(self, endpoint, name):
        self.name = name
        self.seq = 0
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTING_ID, name.encode())
        self.sock.connect(endpoint)

    def send(self, records):
        first = self.seq + 1
        self.seq += len(records)
        self.sock.send(batch(MSG_HITS, self.name, first, records))
        return self.ack()

    def ack(self, timeout=10):
        """The matcher's reply to the batch just sent (it answers each
        at once); acks its syncs send in between are passed over."""
        deadline = time.monotonic() + timeout
        while self.sock.poll(max(0, deadline - time.monotonic()) * 1000):
            msg = self.sock.recv()
            if msg[1] == MSG_REPLY:
                return parse_ack(msg)
            parse_ack(msg)
        raise AssertionError("no reply from the matcher")

    def close(self):
        self.sock.close()
