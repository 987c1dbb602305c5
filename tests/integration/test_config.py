"""The config on the command line: -n for every daemon, errors with
file:line, $POSTLINE_CONF, usage errors, the examples of the manuals, and
SIGHUP reloads."""

import os
import re
import signal
import tempfile

from harness import (SOURCE, Receiver, cluster_of, get, main, program, run)

DAEMONS = ("ingest", "matcher", "firer")


def write(text):
    fd, path = tempfile.mkstemp(suffix=".conf", prefix="postline-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def test_check_good_file():
    path = write('offer a url "http://127.0.0.1/x?t={transaction_id}"\n')
    for d in DAEMONS:
        rc, out, err = run([program(d), "-n", "-f", path])
        assert rc == 0, (d, rc, err)
        assert "configuration OK" in err, (d, err)


def test_check_bad_file_names_line_and_word():
    path = write("global-token abc\n\nofer a url http://x/\n"
                 'offer b url "http://x/{nosuch}"\n')
    for d in DAEMONS:
        rc, out, err = run([program(d), "-n", "-f", path])
        assert rc == 1, (d, rc, err)
        assert "%s:3:" % path in err and "'ofer'" in err, err
        assert "%s:4:" % path in err and "{nosuch}" in err, err


def test_missing_file_and_usage():
    for d in DAEMONS:
        rc, _, err = run([program(d), "-n", "-f", "/nonexistent/p.conf"])
        assert rc == 1 and "/nonexistent/p.conf" in err, (d, rc, err)
        rc, _, err = run([program(d), "-Z"])
        assert rc == 2 and "usage:" in err, (d, rc, err)
        rc, _, err = run([program(d), "-s", "nope", "-n"])
        assert rc == 2 and "usage:" in err, (d, rc, err)


def test_conf_from_environment():
    path = write("global-token abc\n")
    env = dict(os.environ, POSTLINE_CONF=path)
    rc, _, err = run([program("matcher"), "-n"], env=env)
    assert rc == 0 and path in err, (rc, err)


def literal_blocks(page):
    """The text of each .Bd -literal block of a manual."""
    with open(os.path.join(SOURCE, "man", page)) as f:
        text = f.read()
    blocks = re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed", text,
                        re.M | re.S)
    return [b.replace("\\e", "\\").replace("\\&", "") for b in blocks]


def test_manual_and_example_configs_are_valid():
    configs = [os.path.join(SOURCE, "contrib", "postline.conf.example")]
    for block in literal_blocks("postline.conf.5"):
        if "offer " in block or "postback " in block:
            configs.append(write(block))
    assert len(configs) >= 2, configs
    for path in configs:
        rc, _, err = run([program("ingest"), "-n", "-f", path])
        assert rc == 0, (path, open(path).read(), err)


def test_sighup_reloads_rules_and_keeps_old_on_error():
    recv = Receiver()
    offer = 'offer o1 url "http://127.0.0.1:9/?t={transaction_id}"\n'
    rule = ('postback aff on conversion url "%s?t={transaction_id}"\n')
    with cluster_of("global-token g1\n" + offer + rule % recv.url("/a")) as c:
        c.start_all()

        def convert():
            _, h, _ = get(c.base() + "/click?offer_id=o1&publisher=p")
            tx = h["location"].split("t=")[1]
            get(c.base() + "/postback?secure=g1&transaction_id=" + tx)

        convert()
        assert recv.wait_for(1)[0]["path"] == "/a"
        base = open(c.conf).read()
        with open(c.conf, "w") as f:
            f.write(base.replace(recv.url("/a"), recv.url("/b")))
        for key in ("ingest-0", "matcher-0", "firer-0"):
            c.procs[key].send_signal(signal.SIGHUP)
            c.wait_log(key, "event=reload result=ok")
        convert()
        assert recv.wait_for(2)[1]["path"] == "/b"
        with open(c.conf, "a") as f:
            f.write("bogus directive\n")
        c.procs["firer-0"].send_signal(signal.SIGHUP)
        c.wait_log("firer-0", "event=reload result=failed")
        convert()
        assert recv.wait_for(3)[2]["path"] == "/b"
        # Where a daemon listens and whom it talks to needs a restart.
        with open(c.conf, "w") as f:
            f.write(base.replace("ingest listen 127.0.0.1:",
                                 "ingest listen 127.0.0.2:"))
        c.procs["ingest-0"].send_signal(signal.SIGHUP)
        c.wait_log("ingest-0", "change only on a restart")
        convert()
        assert recv.wait_for(4)[3]["path"] == "/b"
        assert all(s == 0 for s in c.stop_all().values())
    recv.close()


if __name__ == "__main__":
    main([test_check_good_file, test_check_bad_file_names_line_and_word,
          test_missing_file_and_usage, test_conf_from_environment,
          test_manual_and_example_configs_are_valid,
          test_sighup_reloads_rules_and_keeps_old_on_error])
