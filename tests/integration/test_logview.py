"""logview against logs written by a real firer: every output form
(checked whole, golden-style, after the random parts are named), every
filter, times, --stats, --pending, --follow, two firers merged, exit
codes and a reader that goes away (SIGPIPE)."""

import datetime
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse

from harness import Receiver, cluster_of, get, main, program

TOKEN = "tok123"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
COLUMNS = ["time", "postback_id", "attempt", "result", "http_status",
           "latency_ms", "rule", "type", "offer_id", "publisher",
           "transaction_id", "url", "error"]
STATS_COLUMNS = ["rule", "attempts", "ok", "retry", "failed", "cancelled",
                 "interrupted", "2xx", "3xx", "4xx", "5xx", "0", "other"]

# What a hostile receiver answers: tabs, newlines, a backslash, terminal
# escapes (ESC [, BEL, CR, the C1 CSI), a byte that is not UTF-8, an
# honest e-acute, and a sequence cut short by the end of the text.
HOSTILE = (b"a\tb\nc\\d\x1b[31mred\x07\r\xff\xc2\x9b\xc3\xa9end\xe2\x82")
HOSTILE_TSV = ("a\\tb\\nc\\\\d\\x1b[31mred\\x07\\r\\xff\\xc2\\x9b\u00e9end"
               "\\xe2\\x82")
HOSTILE_JSON = "a\tb\nc\\d\x1b[31mred\x07\r\ufffd\x9b\u00e9end\ufffd\ufffd"


def config(recv):
    u = recv.url
    return "\n".join([
        "global-token %s" % TOKEN,
        'offer o1 url "http://127.0.0.1:9/l?tx={transaction_id}"',
        'offer o2 url "http://127.0.0.1:9/l?tx={transaction_id}"',
        'offer o3 url "http://127.0.0.1:9/l?tx={transaction_id}"',
        'offer o4 url "http://127.0.0.1:9/l?tx={transaction_id}"',
        'postback aff on conversion offer o1,o2 retry 0,50ms,50ms url '
        '"%s?tx={transaction_id}&pid={postback_id}&n={attempt}'
        '&mode={sub_id}"' % u("/aff"),
        # After aff, so that the order of the log is known.
        'postback crm on conversion offer o2 delay 300ms url '
        '"%s?tx={transaction_id}"' % u("/crm"),
        'postback late on conversion offer o3 delay 1h url '
        '"%s?tx={transaction_id}&pid={postback_id}&n={attempt}'
        '&p={publisher}"' % u("/late"),
        'postback live on conversion offer o4 url '
        '"%s?tx={transaction_id}&mode={sub_id}"' % u("/live"),
    ])


class Answers:
    """The receiver's side: the answer depends on the mode macro."""

    def __init__(self):
        self.seen = set()
        self.slow_started = threading.Event()

    def __call__(self, entry):
        mode = entry["query"].get("mode", ["ok"])[0]
        tx = entry["query"].get("tx", [""])[0]
        if mode == "retry" and tx not in self.seen:
            self.seen.add(tx)
            return 503
        if mode == "fail":
            return 404
        if mode == "hostile":
            return (200, {}, HOSTILE)
        if mode == "slow":
            self.slow_started.set()
            time.sleep(1.5)
        return 200


def click(c, offer, publisher, sub_id=""):
    status, headers, body = get(c.base() + "/click?offer_id=%s&publisher=%s"
                                "&sub_id=%s" % (offer, publisher, sub_id))
    assert status == 302, (status, body)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(
        headers["location"]).query)
    return q["tx"][0]


def convert(c, tx):
    status, _, body = get(c.base() + "/postback?secure=%s&transaction_id=%s"
                          % (TOKEN, tx))
    assert status == 200 and "approved" in body, (status, body)


def wait_until(cond, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "no " + what
        time.sleep(0.02)


def attempts_logged(c, n, key="firer-0"):
    c.wait_log(key, "event=attempt ", count=n)


def logview(*args, env=None, input=None):
    """Run logview; (status, stdout bytes, stderr text)."""
    p = subprocess.run([program("logview")] + list(args), input=input,
                       capture_output=True, timeout=60, env=env)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def text(args, want=0, env=None):
    rc, out, err = logview(*args, env=env)
    assert rc == want, (args, rc, out, err)
    if want != 2:
        assert err == "", (args, err)
    return out.decode("utf-8")


def rows(out):
    return [line.split("\t") for line in out.splitlines()]


def env_without_conf():
    env = dict(os.environ)
    env.pop("POSTLINE_CONF", None)
    return env


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (
        dt.microsecond // 1000)


# One cluster with a known log, shared by the tests that only read it.
W = {}


def world():
    if W:
        return W
    answers = Answers()
    recv = Receiver(status=answers)
    ctx = cluster_of(config(recv))
    c = ctx.__enter__()
    W.update(recv=recv, answers=answers, ctx=ctx, c=c, tx={})
    c.start_all()
    plan = [("ok", "o1", "pa", "ok", 1), ("retry", "o1", "pb", "retry", 2),
            ("fail", "o1", "pa", "fail", 1),
            ("hostile", "o1", "pc", "hostile", 1),
            ("two", "o2", "pb", "ok", 2)]
    logged = 0
    # One at a time, so that the log's order is the plan's.
    for name, offer, pub, mode, n in plan:
        tx = click(c, offer, pub, mode)
        W["tx"][name] = tx
        convert(c, tx)
        logged += n
        attempts_logged(c, logged)
    tx = click(c, "o3", "pa")
    W["tx"]["late"] = tx
    convert(c, tx)
    c.wait_log("firer-0", "rule=late transaction_id=%s" % tx)
    m = re.search(r"event=scheduled postback_id=(\w+) rule=late "
                  r"transaction_id=%s" % tx, c.log_text("firer-0"))
    W["late_pid"] = m.group(1)
    W["dir"] = c.firer_dir()
    W["logged"] = logged
    return W


def teardown():
    if W:
        W["ctx"].__exit__(None, None, None)
        W["recv"].close()
        W.clear()


def names_of(out):
    """Name the random parts of an output for a golden comparison."""
    w = world()
    for name, tx in w["tx"].items():
        out = out.replace(tx, "TX_" + name)
    out = out.replace(w["late_pid"], "PID_late")
    out = out.replace(":%d/" % w["recv"].port, ":PORT/")
    pids = []
    for pid in re.findall(r"\b[0-9a-z]{32}\b", out):
        if pid not in pids:
            pids.append(pid)
    for i, pid in enumerate(pids):
        out = out.replace(pid, "PID%d" % (i + 1))
    out = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "TIME", out)
    return out


GOLDEN_TSV = """\
TIME	PID1	1	ok	200	L	aff	conversion	o1	pa	TX_ok	\
http://127.0.0.1:PORT/aff?tx=TX_ok&pid=PID1&n=1&mode=ok	ok\\n
TIME	PID2	1	retry	503	L	aff	conversion	o1	pb	TX_retry	\
http://127.0.0.1:PORT/aff?tx=TX_retry&pid=PID2&n=1&mode=retry	ok\\n
TIME	PID2	2	ok	200	L	aff	conversion	o1	pb	TX_retry	\
http://127.0.0.1:PORT/aff?tx=TX_retry&pid=PID2&n=2&mode=retry	ok\\n
TIME	PID3	1	failed	404	L	aff	conversion	o1	pa	TX_fail	\
http://127.0.0.1:PORT/aff?tx=TX_fail&pid=PID3&n=1&mode=fail	ok\\n
TIME	PID4	1	ok	200	L	aff	conversion	o1	pc	TX_hostile	\
http://127.0.0.1:PORT/aff?tx=TX_hostile&pid=PID4&n=1&mode=hostile	%s
TIME	PID5	1	ok	200	L	aff	conversion	o2	pb	TX_two	\
http://127.0.0.1:PORT/aff?tx=TX_two&pid=PID5&n=1&mode=ok	ok\\n
TIME	PID6	1	ok	200	L	crm	conversion	o2	pb	TX_two	\
http://127.0.0.1:PORT/crm?tx=TX_two	ok\\n
""" % HOSTILE_TSV


def without_latency(out):
    lines = []
    for cols in rows(out):
        assert cols[5].isdigit(), cols
        cols[5] = "L"
        lines.append("\t".join(cols))
    return "".join(line + "\n" for line in lines)


def test_default_columns():
    w = world()
    out = text(["-d", w["dir"]])
    for cols in rows(out):
        assert len(cols) == 13, cols
        assert TIME_RE.match(cols[0]), cols
    times = [r[0] for r in rows(out)]
    assert times == sorted(times), times
    got = names_of(without_latency(out))
    assert got == GOLDEN_TSV, "\n" + got + "\n---\n" + GOLDEN_TSV


def test_hostile_response_is_escaped():
    w = world()
    rc, out, err = logview("-d", w["dir"], "-t", w["tx"]["hostile"])
    assert rc == 0, (rc, out, err)
    # Nothing a terminal acts on, and one line of 13 fields.
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", out), out
    assert b"\xc2\x9b" not in out and b"\xff" not in out, out
    cols = out.decode("utf-8").rstrip("\n").split("\t")
    assert len(cols) == 13 and cols[12] == HOSTILE_TSV, cols
    rc, out, err = logview("-d", w["dir"], "-t", w["tx"]["hostile"], "-j")
    assert not re.search(rb"[\x00-\x1f\x7f]", out.rstrip(b"\n")), out
    assert b"\xc2\x9b" not in out, out
    assert json.loads(out)["error"] == HOSTILE_JSON, out


def test_json():
    w = world()
    out = text(["-d", w["dir"], "--json"])
    tsv = rows(text(["-d", w["dir"]]))
    objs = [json.loads(line) for line in out.splitlines()]
    assert len(objs) == len(tsv) == w["logged"], (objs, tsv)
    for obj, cols in zip(objs, tsv):
        assert list(obj) == COLUMNS, obj
        for k in ("attempt", "http_status", "latency_ms"):
            assert type(obj[k]) is int, obj
        assert [str(obj[k]) for k in COLUMNS[:12]] == cols[:12], (obj, cols)
    # Numbers are numbers and strings strings, whatever --fields says.
    out = text(["-d", w["dir"], "-j", "-t", w["tx"]["fail"],
                "--fields", "http_status,result,attempt,http_status"])
    assert out == '{"http_status":404,"result":"failed","attempt":1,' \
        '"http_status":404}\n', out
    # -H is for people reading columns; JSON needs no header.
    assert text(["-d", w["dir"], "-j", "-H"]) == text(["-d", w["dir"], "-j"])


def test_fields_and_header():
    w = world()
    out = text(["-d", w["dir"], "-H", "--fields",
                "transaction_id,result,http_status,transaction_id"])
    assert names_of(out) == (
        "transaction_id\tresult\thttp_status\ttransaction_id\n"
        "TX_ok\tok\t200\tTX_ok\n"
        "TX_retry\tretry\t503\tTX_retry\n"
        "TX_retry\tok\t200\tTX_retry\n"
        "TX_fail\tfailed\t404\tTX_fail\n"
        "TX_hostile\tok\t200\tTX_hostile\n"
        "TX_two\tok\t200\tTX_two\n"
        "TX_two\tok\t200\tTX_two\n"), out
    out = text(["-d", w["dir"], "--header", "-t", w["tx"]["ok"]])
    assert out.splitlines()[0].split("\t") == COLUMNS, out
    assert len(out.splitlines()) == 2, out
    out = text(["-d", w["dir"], "--fields", "rule", "--header",
                "--result", "cancelled"], want=1)
    assert out == "rule\n", out
    rc, out, err = logview("-d", w["dir"], "--fields", "rule,nosuch")
    assert rc == 2 and out == b"" and "nosuch" in err, (rc, out, err)
    rc, out, err = logview("-d", w["dir"], "--fields", "")
    assert rc == 2 and out == b"" and err, (rc, out, err)


def filtered(*args):
    w = world()
    rc, out, err = logview("-d", w["dir"], "--fields",
                           "transaction_id,attempt", *args)
    assert rc in (0, 1) and err == "", (args, rc, err)
    assert (rc == 0) == (out != b""), (args, rc, out)
    return names_of(out.decode()).replace("\t", ":").split()


def test_filters():
    w = world()
    tx = w["tx"]
    assert filtered("-t", tx["retry"]) == ["TX_retry:1", "TX_retry:2"]
    assert filtered("--transaction", tx["fail"], "-t", tx["ok"],
                    "-t", tx["ok"]) == ["TX_ok:1", "TX_fail:1"]
    assert filtered("-t", "0" * 32) == []
    pid = rows(text(["-d", w["dir"], "-t", tx["retry"]]))[0][1]
    assert filtered("--postback", pid) == ["TX_retry:1", "TX_retry:2"]
    assert filtered("--rule", "crm") == ["TX_two:1"]
    assert filtered("--rule", "crm", "--rule", "nosuch") == ["TX_two:1"]
    assert filtered("--offer", "o2") == ["TX_two:1", "TX_two:1"]
    assert filtered("--offer", "o3") == []
    assert filtered("--publisher", "pa") == ["TX_ok:1", "TX_fail:1"]
    assert filtered("--publisher", "pc", "--publisher", "pa") == [
        "TX_ok:1", "TX_fail:1", "TX_hostile:1"]
    assert filtered("--status", "404") == ["TX_fail:1"]
    assert filtered("--status", "5xx") == ["TX_retry:1"]
    assert filtered("--status", "4xx,5xx") == ["TX_retry:1", "TX_fail:1"]
    assert filtered("--status", "3xx") == []
    assert filtered("--status", "0") == []
    assert len(filtered("--status", "2xx")) == 5
    assert filtered("--result", "retry") == ["TX_retry:1"]
    assert filtered("--result", "failed,retry") == ["TX_retry:1",
                                                    "TX_fail:1"]
    assert filtered("--result", "cancelled,interrupted") == []
    # Different filters must all match.
    assert filtered("--publisher", "pb", "--result", "ok",
                    "--rule", "aff") == ["TX_retry:2", "TX_two:1"]
    assert filtered("-t", tx["two"], "--rule", "crm") == ["TX_two:1"]
    assert filtered("-t", tx["two"], "--offer", "o1") == []
    for bad in (["--status", "6xx"], ["--status", "20x"],
                ["--status", "1000"], ["--status", "2xx,"],
                ["--result", "okay"], ["--result", ""],
                ["-t", "x" * 33], ["-t", ""]):
        rc, out, err = logview("-d", w["dir"], *bad)
        assert rc == 2 and out == b"" and err, (bad, rc, out, err)


def test_times():
    w = world()
    all_rows = rows(text(["-d", w["dir"]]))
    times = [parse_time(r[0]) for r in all_rows]
    n = len(all_rows)

    def count(*args):
        rc, out, err = logview("-d", w["dir"], *args)
        assert rc in (0, 1) and err == "", (args, rc, err)
        return len(out.splitlines())

    first, last = times[0], times[-1]
    assert count("--since", iso(first)) == n
    assert count("--until", iso(first)) == 0
    assert count("--until", iso(last)) == sum(t < last for t in times)
    assert count("--since", iso(last)) == sum(t >= last for t in times)
    third = times[2]
    assert count("--since", iso(third), "--until", iso(last)) == sum(
        third <= t < last for t in times)
    # Without milliseconds, and a date: midnight UTC.
    assert count("--since", first.strftime("%Y-%m-%dT%H:%M:%SZ")) == n
    assert count("--since", first.strftime("%Y-%m-%d")) == n
    tomorrow = first + datetime.timedelta(days=1)
    assert count("--since", tomorrow.strftime("%Y-%m-%d")) == 0
    assert count("--until", tomorrow.strftime("%Y-%m-%d")) == n
    # Ages before now.
    assert count("--since", "1h") == n
    assert count("--since", "7d", "--until", "0s") == n
    assert count("--until", "1h") == 0
    assert count("--since", "0s") == 0
    # With the transaction index too.
    tx = w["tx"]["retry"]
    retry = [parse_time(r[0]) for r in all_rows if r[10] == tx]
    assert count("-t", tx, "--since", iso(retry[1])) == 1
    assert count("-t", tx, "--until", iso(retry[1])) == 1
    for bad in ("15", "yesterday", "2026-13-01", "2026-02-30",
                "2026-11-21T25:00:00Z", "2026-11-21T01:02:03",
                "2026-11-21T01:02:03.Z", "-1h", ""):
        rc, out, err = logview("-d", w["dir"], "--since", bad)
        assert rc == 2 and out == b"" and "--since" in err, (bad, rc, err)


GOLDEN_STATS = """\
rule\tattempts\tok\tretry\tfailed\tcancelled\tinterrupted\t2xx\t3xx\t4xx\t\
5xx\t0\tother
aff\t6\t4\t1\t1\t0\t0\t4\t0\t1\t1\t0\t0
crm\t1\t1\t0\t0\t0\t0\t1\t0\t0\t0\t0\t0
*\t7\t5\t1\t1\t0\t0\t5\t0\t1\t1\t0\t0
"""


def test_stats():
    w = world()
    out = text(["-d", w["dir"], "--stats", "-H"])
    assert out == GOLDEN_STATS, out
    assert text(["-d", w["dir"], "--stats"]) == \
        GOLDEN_STATS.split("\n", 1)[1]
    objs = [json.loads(line) for line in
            text(["-d", w["dir"], "--stats", "--json", "-H"]).splitlines()]
    assert [list(o) for o in objs] == [STATS_COLUMNS] * 3, objs
    assert objs[0] == dict(zip(STATS_COLUMNS, [
        "aff", 6, 4, 1, 1, 0, 0, 4, 0, 1, 1, 0, 0])), objs
    assert objs[2]["rule"] == "*" and objs[2]["attempts"] == 7, objs
    # Only the selected rows are counted.
    out = text(["-d", w["dir"], "--stats", "--publisher", "pa"])
    assert out == ("aff\t2\t1\t0\t1\t0\t0\t1\t0\t1\t0\t0\t0\n"
                   "*\t2\t1\t0\t1\t0\t0\t1\t0\t1\t0\t0\t0\n"), out
    # Nothing selected: the zero line still, and status 1.
    out = text(["-d", w["dir"], "--stats", "--rule", "nosuch"], want=1)
    assert out == "*" + "\t0" * 12 + "\n", out
    rc, _, err = logview("-d", w["dir"], "--stats", "--fields", "rule")
    assert rc == 2 and "--fields" in err, (rc, err)


def test_pending():
    w = world()
    pid, tx = w["late_pid"], w["tx"]["late"]
    out = text(["-d", w["dir"], "--pending", "-H"], env=env_without_conf())
    lines = out.splitlines()
    assert lines[0].split("\t") == ["due", "postback_id", "attempt",
                                    "rule", "transaction_id", "url"], out
    assert len(lines) == 2, out
    due, got_pid, attempt, rule, got_tx, url = lines[1].split("\t")
    assert (got_pid, attempt, rule, got_tx, url) == (
        pid, "1", "late", tx, ""), lines
    wait = parse_time(due) - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=55) < wait <= \
        datetime.timedelta(hours=1), due
    # The URL, expanded from the rule of the named config.
    conf = w["c"].conf
    for args in (["-f", conf, "-d", w["dir"]], ["-f", conf]):
        out = text(args + ["--pending", "--json"])
        obj = json.loads(out)
        assert obj == {"due": due, "postback_id": pid, "attempt": 1,
                       "rule": "late", "transaction_id": tx,
                       "url": "%s?tx=%s&pid=%s&n=1&p=pa" % (
                           w["recv"].url("/late"), tx, pid)}, obj
    env = env_without_conf()
    env["POSTLINE_CONF"] = conf
    out = text(["-d", w["dir"], "--pending", "--rule", "late"], env=env)
    assert out.rstrip("\n").split("\t")[5].endswith("&n=1&p=pa"), out
    # Filters of a delivery; the rest makes no sense for one.
    assert text(["-d", w["dir"], "--pending", "-t", tx]).count("\n") == 1
    assert text(["-d", w["dir"], "--pending", "--postback", pid]) != ""
    assert text(["-d", w["dir"], "--pending", "--offer", "o3",
                 "--publisher", "pa"]) != ""
    text(["-d", w["dir"], "--pending", "-t", w["tx"]["ok"]], want=1)
    text(["-d", w["dir"], "--pending", "--rule", "aff"], want=1)
    text(["-d", w["dir"], "--pending", "--until", "30m"], want=1)
    text(["-d", w["dir"], "--pending", "--since", "2h"])
    for bad in (["--status", "2xx"], ["--result", "ok"],
                ["--fields", "url"], ["--stats"], ["--follow"]):
        rc, _, err = logview("-d", w["dir"], "--pending", *bad)
        assert rc == 2 and err, (bad, rc, err)
    # A named config that cannot be read is an error, not an empty URL.
    rc, _, err = logview("-d", w["dir"], "--pending", "-f",
                         os.path.join(w["c"].dir, "nosuch.conf"))
    assert rc == 2 and "nosuch.conf" in err, (rc, err)
    # The attempt log has no pending delivery in it.
    assert w["tx"]["late"] not in text(["-d", w["dir"]])


class Follower:
    """logview --follow in the background, its lines read as they come."""

    def __init__(self, *args, read=True):
        self.proc = subprocess.Popen(
            [program("logview"), "--follow"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self.cond = threading.Condition()
        if read:
            self.thread = threading.Thread(target=self.read, daemon=True)
            self.thread.start()

    def wait_open(self, n=1, timeout=10):
        """Wait until it has mapped its n logs: it reads them at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open("/proc/%d/maps" % self.proc.pid) as f:
                if f.read().count("data.mdb\n") >= n:
                    return
            assert self.proc.poll() is None, self.proc.returncode
            time.sleep(0.01)
        raise AssertionError("logview --follow never opened its logs")

    def read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.decode("utf-8"))
                self.cond.notify_all()

    def wait_lines(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.lines) < n:
                left = deadline - time.monotonic()
                assert left > 0, ("follower got", self.lines)
                self.cond.wait(left)
            return list(self.lines)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("logview --follow ignored %s" % sig)
        err = self.proc.stderr.read().decode()
        return rc, err


def live(c, sub_id="ok"):
    tx = click(c, "o4", "pl", sub_id)
    convert(c, tx)
    return tx


def test_follow():
    w = world()
    c = w["c"]
    d = w["dir"]
    since = iso(datetime.datetime.now(datetime.timezone.utc))
    f = Follower("-d", d, "--since", since, "--fields",
                 "transaction_id,rule,result")
    g = Follower("-d", d, "--rule", "live", "--json")
    g.wait_open()
    try:
        tx1 = live(c)
        assert f.wait_lines(1) == ["%s\tlive\tok\n" % tx1], f.lines
        tx2 = live(c)
        lines = f.wait_lines(2)
        assert lines[1] == "%s\tlive\tok\n" % tx2, lines
        objs = [json.loads(x) for x in g.wait_lines(2)]
        # Without --since nothing old; then in order.
        assert [o["transaction_id"] for o in objs] == [tx1, tx2], objs
        # An attempt that ends after a later one is logged behind it.
        slow = live(c, "slow")
        assert w["answers"].slow_started.wait(10)
        fast = live(c)
        lines = f.wait_lines(4)
        assert lines[2:] == ["%s\tlive\tok\n" % fast,
                             "%s\tlive\tok\n" % slow], lines
        assert len(g.wait_lines(4)) == 4
    finally:
        rc, err = f.stop(signal.SIGTERM)
        rc2, err2 = g.stop(signal.SIGINT)
    assert (rc, err) == (0, ""), (rc, err)
    assert (rc2, err2) == (0, ""), (rc2, err2)
    f.thread.join(5)
    g.thread.join(5)
    assert len(f.lines) == 4 and len(g.lines) == 4, (f.lines, g.lines)
    # An --until in the past: what there is, then the end.
    rc, out, err = logview("-d", d, "--follow", "--since", since,
                           "--until", "1s", "--rule", "live")
    assert rc == 0 and len(out.splitlines()) == 4, (rc, out, err)
    rc, out, err = logview("-d", d, "--follow", "--until", "1s")
    assert (rc, out, err) == (1, b"", ""), (rc, out, err)


def test_follow_into_head():
    """--follow | head -1 ends with the reader, even when idle."""
    w = world()
    for since in ("1h", None):
        args = ["-d", w["dir"]] + (["--since", since] if since else [])
        f = Follower(*args, read=False)
        f.wait_open()
        head = subprocess.Popen(["head", "-1"], stdin=f.proc.stdout,
                                stdout=subprocess.PIPE)
        f.proc.stdout.close()
        if since is None:
            live(w["c"])
        line = head.stdout.read()
        assert head.wait(timeout=15) == 0 and line.count(b"\n") == 1, line
        try:
            rc = f.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            f.stop(signal.SIGKILL)
            raise AssertionError("logview --follow outlived its reader")
        err = f.proc.stderr.read()
        assert (rc, err) == (0, b""), (since, rc, err)


def test_sigpipe():
    """A reader that went away: quiet, status 0, as under | head -1."""
    w = world()
    for extra in ([], ["--json"], ["--stats"], ["--pending"]):
        r, wr = os.pipe()
        os.close(r)
        p = subprocess.run([program("logview"), "-d", w["dir"]] + extra,
                           stdout=wr, stderr=subprocess.PIPE, timeout=30)
        os.close(wr)
        assert (p.returncode, p.stderr) == (0, b""), (extra, p)
    # And the real thing, with long lines.
    many = ",".join(["url"] * 64)
    p = subprocess.run("'%s' -d '%s' --fields %s | head -1" % (
        program("logview"), w["dir"], many), shell=True,
        capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stderr == b"", p
    assert p.stdout.count(b"\n") == 1, p.stdout[:200]


def test_exit_status():
    w = world()
    d = w["dir"]
    text(["-d", d, "--rule", "nosuch"], want=1)
    assert text(["-d", d, "--rule", "nosuch"], want=1) == ""
    out = text(["--help"])
    for opt in ("--since", "--until", "--transaction", "--postback",
                "--rule", "--offer", "--publisher", "--status", "--result",
                "--fields", "--header", "--json", "--follow", "--stats",
                "--pending", "-d", "-f"):
        assert opt in out, (opt, out)
    nosuch = os.path.join(w["c"].dir, "nosuch")
    for args in (["--nosuch"], ["-d", d, "extra"], ["-d", nosuch],
                 ["-d", w["c"].conf], ["-d", w["c"].dir],
                 ["-f", nosuch + ".conf"], ["-d", d, "--follow", "--stats"],
                 ["-d", d, "--stats", "--pending"], ["-d"]):
        rc, out, err = logview(*args)
        assert rc == 2 and out == b"" and err, (args, rc, out, err)
    # A broken directory beside a good one: the good one's rows, and 2.
    rc, out, err = logview("-d", d, "-d", nosuch)
    assert rc == 2 and len(out.splitlines()) >= 7 and nosuch in err, (
        rc, err)
    # The same directory twice is read once.
    assert text(["-d", d, "-d", d + "/."]) == text(["-d", d])
    # --follow does not start without all its directories.
    rc, out, err = logview("-d", d, "-d", nosuch, "--follow")
    assert rc == 2 and out == b"" and nosuch in err, (rc, out, err)


def test_two_firers_merged():
    recv = Receiver()
    body = "\n".join([
        "global-token %s" % TOKEN,
        'offer o1 url "http://127.0.0.1:9/l?tx={transaction_id}"',
        'postback aff on conversion url "%s?tx={transaction_id}"'
        % recv.url("/aff")])
    with cluster_of(body, firers=2) as c:
        c.start("matcher")
        c.start("firer", 0)
        c.start("firer", 1)
        c.start("ingest")
        since = iso(datetime.datetime.now(datetime.timezone.utc))
        f = Follower("-d", c.firer_dir(0), "-d", c.firer_dir(1),
                     "--since", since, "--fields", "transaction_id")
        try:
            txs = []
            for i in range(20):
                tx = click(c, "o1", "p%d" % i)
                convert(c, tx)
                txs.append(tx)
            recv.wait_for(20)
            # A firer logs an attempt once its answer came.
            wait_until(lambda: sum(
                c.log_text("firer-%d" % i).count("event=attempt ")
                for i in (0, 1)) == 20, "20 attempts logged")
            n0 = logview("-d", c.firer_dir(0))[1].count(b"\n")
            n1 = logview("-d", c.firer_dir(1))[1].count(b"\n")
            assert n0 > 0 and n1 > 0 and n0 + n1 == 20, (n0, n1)
            out = text(["-d", c.firer_dir(0), "-d", c.firer_dir(1)])
            got = rows(out)
            assert sorted(r[10] for r in got) == sorted(txs), got
            times = [r[0] for r in got]
            assert times == sorted(times), times
            # Through the config: every firer it names.
            assert text(["-f", c.conf]) == out
            assert "*\t20\t20\t" in text(["-f", c.conf, "--stats"])
            lines = f.wait_lines(20)
            assert sorted(x.strip() for x in lines) == sorted(txs), lines
        finally:
            rc, err = f.stop(signal.SIGINT)
        assert (rc, err) == (0, ""), (rc, err)
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_daemons_stop_cleanly():
    w = world()
    statuses = w["c"].stop_all()
    assert all(s == 0 for s in statuses.values()), statuses


if __name__ == "__main__":
    try:
        main([test_default_columns, test_hostile_response_is_escaped,
              test_json, test_fields_and_header, test_filters, test_times,
              test_stats, test_pending, test_exit_status, test_sigpipe,
              test_follow, test_follow_into_head, test_two_firers_merged,
              test_daemons_stop_cleanly])
    finally:
        teardown()
