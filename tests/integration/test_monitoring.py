"""The Prometheus rules of contrib/prometheus against promtool, the real
daemons' /metrics pages and a real Prometheus server (Debian's
prometheus package; .ci/run and ./run install it)."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

from harness import Receiver, SOURCE, cluster_of, free_port, get, main

CONTRIB = os.path.join(SOURCE, "contrib", "prometheus")
RULES = os.path.join(CONTRIB, "postline.rules.yml")
DAEMONS = ("ingest", "matcher", "firer")


def promtool(*args, stdin=None):
    r = subprocess.run(["promtool"] + list(args), cwd=CONTRIB, input=stdin,
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def test_rules_check_and_unit_tests():
    rc, out = promtool("check", "rules", "postline.rules.yml")
    assert rc == 0, out
    rc, out = promtool("test", "rules", "postline.rules.test.yml")
    assert rc == 0 and "SUCCESS" in out, out
    rc, out = promtool("check", "config", "prometheus.yml")
    assert rc == 0, out
    # Every alert has a test in the unit tests, firing and not firing.
    with open(RULES) as f:
        alerts = re.findall(r"^\s+- alert: (\w+)$", f.read(), re.M)
    with open(os.path.join(CONTRIB, "postline.rules.test.yml")) as f:
        tests = f.read()
    assert len(alerts) >= 12, alerts
    for a in alerts:
        cases = re.findall(r"alertname: %s\n\s+exp_alerts:(.*)" % a, tests)
        assert any(c.strip() == "[]" for c in cases), (a, "not firing")
        assert any(c.strip() == "" for c in cases), (a, "firing")


def rule_metric_names():
    """Every metric name the rules file reads or mentions (not 'up', and
    not the job:...:rate5m names its recording rules make)."""
    with open(RULES) as f:
        text = f.read()
    names = set()
    for n in re.findall(r"(?<![:\w])postline_[a-z_]+", text):
        names.add(re.sub(r"_seconds_(bucket|sum|count)$", "_seconds", n))
    return names


def metric_body(ports):
    recv = Receiver()
    return recv, "\n".join([
        "global-token g1",
        'offer o1 url "http://127.0.0.1:9/?t={transaction_id}"',
        'postback aff on conversion url "%s?t={transaction_id}"' %
        recv.url("/aff"),
    ] + ["%s metrics 127.0.0.1:%d" % (d, p) for d, p in zip(DAEMONS, ports)])


def exported(port):
    """The metric families a /metrics page declares, and the page."""
    status, _, page = get("http://127.0.0.1:%d/metrics" % port)
    assert status == 200, status
    return set(re.findall(r"^# TYPE (\S+) ", page, re.M)), page


def test_rules_use_exported_metrics():
    ports = [free_port() for _ in DAEMONS]
    recv, body = metric_body(ports)
    with cluster_of(body) as c:
        c.start_all()
        # An attempt, so that the firer's labelled series exist too.
        _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
        tx = h["location"].split("t=")[1]
        get(c.base() + "/postback?secure=g1&transaction_id=" + tx)
        recv.wait_for(1)
        c.wait_log("firer-0", "result=ok")
        names = set()
        for daemon, port in zip(DAEMONS, ports):
            families, page = exported(port)
            names |= families
            rc, out = promtool("check", "metrics", stdin=page)
            assert rc == 0 and out.strip() == "", (daemon, out)
        used = rule_metric_names()
        assert len(used) >= 12, used
        missing = used - names
        assert not missing, "rules name metrics no daemon exports: %s" % (
            sorted(missing))
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


def test_rule_metric_names_are_read():
    """The parser above finds the names (else the check proves nothing)."""
    used = rule_metric_names()
    for n in ("postline_firer_attempts_total", "postline_lmdb_map_used_bytes",
              "postline_ingest_outbox_pending",
              "postline_firer_attempt_seconds",
              "postline_matcher_retention_behind_seconds"):
        assert n in used, (n, used)


def prometheus_config(tmp, ports):
    """contrib/prometheus/prometheus.yml with the test's ports, a scrape
    and an evaluation every second, and the rules by their path."""
    with open(os.path.join(CONTRIB, "prometheus.yml")) as f:
        text = f.read()
    subs = [("scrape_interval: 15s", "scrape_interval: 1s"),
            ("evaluation_interval: 15s", "evaluation_interval: 1s"),
            ("- postline.rules.yml", "- " + RULES)]
    subs += [('["127.0.0.1:%d"]' % (9101 + i), '["127.0.0.1:%d"]' % p)
             for i, p in enumerate(ports)]
    for old, new in subs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = os.path.join(tmp, "prometheus.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def api(port, path):
    status, _, body = get("http://127.0.0.1:%d/api/v1/%s" % (port, path))
    assert status == 200, (status, body)
    return json.loads(body)["data"]


def wait_for(what, cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError("never saw " + what)


def targets_up(port):
    q = urllib.parse.quote('up{job=~"postline-.*"} == 1')
    return {r["metric"]["job"] for r in api(port, "query?query=" + q)[
        "result"]}


def down_alerts(port):
    return [(a["labels"]["job"], a["state"]) for a in api(port, "alerts")[
        "alerts"] if a["labels"]["alertname"] == "PostlineDaemonDown"]


def test_prometheus_sees_a_daemon_down():
    ports = [free_port() for _ in DAEMONS]
    recv, body = metric_body(ports)
    tmp = tempfile.mkdtemp(prefix="postline-prometheus-")
    web = free_port()
    prom = None
    try:
        with cluster_of(body) as c:
            c.start_all()
            log = open(os.path.join(tmp, "prometheus.log"), "wb")
            prom = subprocess.Popen(
                ["prometheus", "--config.file=" + prometheus_config(
                    tmp, ports), "--storage.tsdb.path=" +
                 os.path.join(tmp, "data"),
                 "--web.listen-address=127.0.0.1:%d" % web],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            jobs = {"postline-" + d for d in DAEMONS}

            def scraped():
                assert prom.poll() is None, "prometheus exited"
                try:
                    return targets_up(web) == jobs
                except ConnectionRefusedError:	# not listening yet
                    return False
            wait_for("every daemon scraped", scraped)
            assert down_alerts(web) == []
            c.stop("matcher", sig=signal.SIGKILL)
            got = wait_for("PostlineDaemonDown for the matcher",
                           lambda: down_alerts(web))
            assert got in ([("postline-matcher", "pending")],
                           [("postline-matcher", "firing")]), got
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(timeout=30)
        recv.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main([test_rules_check_and_unit_tests, test_rule_metric_names_are_read,
          test_rules_use_exported_metrics,
          test_prometheus_sees_a_daemon_down])
