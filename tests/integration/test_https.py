"""HTTPS on the tracking domain: Debian's nginx with contrib/nginx's
server block (a certificate made here with openssl) in front of the real
ingest.  Clients come from 127.0.0.2, nginx talks to ingest from
127.0.0.1, so the click_ip ingest records tells the two apart."""

import http.client
import os
import re
import shutil
import ssl
import subprocess
import tempfile

from harness import Receiver, SOURCE, Skip, cluster_of, free_port, kv, main

SITE = os.path.join(SOURCE, "contrib", "nginx", "postline.conf")
CLIENT = "127.0.0.2"		# the visitor's and the advertiser's address


def certificate(tmp):
    """A self-signed certificate for 127.0.0.1: (cert, key)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=track.test", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:track.test",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)	# nginx's workers run as nobody
    return cert, key


def site(ingest_port, https_port, http_port, cert, key):
    """contrib/nginx/postline.conf with this test's ports and files."""
    with open(SITE) as f:
        text = f.read()
    subs = [
        ("server 127.0.0.1:8080;", "server 127.0.0.1:%d;" % ingest_port),
        ("    listen 80;\n", "    listen 127.0.0.1:%d;\n" % http_port),
        ("    listen [::]:80;\n", ""),
        ("    listen 443 ssl http2;\n",
         "    listen 127.0.0.1:%d ssl http2;\n" % https_port),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("/etc/letsencrypt/live/track.example.com/fullchain.pem", cert),
        ("/etc/letsencrypt/live/track.example.com/privkey.pem", key),
    ]
    for old, new in subs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def start_nginx(tmp, site_text, page_port, cert, key):
    """nginx with the site and an advertiser's thank-you page (HTTPS,
    another port) whose pixel points at the tracking domain."""
    for d in ("logs", "tmp", "www"):
        os.makedirs(os.path.join(tmp, d))
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{ text/html html; }}
{site}
    server {{
        listen 127.0.0.1:{page} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {d}/www;
    }}
}}
""".format(d=tmp, site=site_text, page=page_port, cert=cert, key=key))
    log = open(os.path.join(tmp, "logs", "stderr"), "wb")
    proc = subprocess.Popen(["nginx", "-p", tmp, "-c", conf],
                            stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log)
    return proc


def https_get(port, path):
    """GET over TLS from CLIENT (certificate not checked: the test's)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                       timeout=10,
                                       source_address=(CLIENT, 0))
    conn.request("GET", path, headers={"User-Agent": "test-browser/1"})
    r = conn.getresponse()
    body = r.read().decode()
    headers = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    return r.status, headers, body


def wait_listening(port, proc, tmp):
    import socket
    import time
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, open(os.path.join(
            tmp, "logs", "stderr")).read()
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nginx never listened on %d" % port)


def chromium_load(url, tmp):
    """Load url in headless Chromium, certificate errors ignored (the
    test's own certificate); the DOM once the page has loaded."""
    exe = shutil.which("chromium")
    if exe is None:
        raise Skip("chromium is missing (./run test installs it)")
    r = subprocess.run([
        exe, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        "--ignore-certificate-errors",
        "--user-data-dir=" + os.path.join(tmp, "chromium"),
        "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_https_front():
    if shutil.which("nginx") is None or shutil.which("openssl") is None:
        raise Skip("nginx or openssl is missing (./run test installs them)")
    recv = Receiver()
    tmp = tempfile.mkdtemp(prefix="postline-https-")
    os.chmod(tmp, 0o755)	# nginx's workers (nobody) read the page
    https_port, http_port, page_port = free_port(), free_port(), free_port()
    body = "\n".join([
        "ingest trust-proxy 127.0.0.1/32",
        "ingest public-url https://127.0.0.1:%d" % https_port,
        "global-token g1",
        'offer o1 url "https://shop.test/landing?clickid={transaction_id}"',
        'postback aff on conversion url "%s?tx={transaction_id}'
        '&ip={click_ip}&cip={conversion_ip}"' % recv.url("/aff"),
    ])
    nginx = None
    try:
        with cluster_of(body) as c:
            c.start_all()
            cert, key = certificate(tmp)
            nginx = start_nginx(tmp, site(c.port, https_port, http_port,
                                          cert, key), page_port, cert, key)
            wait_listening(https_port, nginx, tmp)

            # A click over HTTPS: redirected with its transaction_id.
            status, h, text = https_get(
                https_port, "/click?offer_id=o1&publisher=p1")
            assert status == 302, (status, text)
            tx = kv(text)["transaction_id"]
            assert h["location"] == \
                "https://shop.test/landing?clickid=" + tx, h
            # The advertiser's postback over HTTPS gets its verdict.
            status, _, text = https_get(
                https_port, "/postback?secure=g1&transaction_id=" + tx)
            assert status == 200 and kv(text) == {
                "result": "approved", "transaction_id": tx}, text
            q = recv.wait_for(1)[0]["query"]
            # The visitor's address as nginx saw it, not nginx's.
            assert q == {"tx": [tx], "ip": [CLIENT], "cip": [CLIENT]}, q

            # /metrics is never served on the tracking domain.
            status, _, _ = https_get(https_port, "/metrics")
            assert status == 404, status

            # A pixel on an HTTPS thank-you page, loaded by a browser.
            status, h, text = https_get(
                https_port, "/click?offer_id=o1&publisher=p2")
            tx2 = kv(text)["transaction_id"]
            with open(os.path.join(tmp, "www", "thanks.html"), "w") as f:
                f.write('<html><body><p>Thank you</p>'
                        '<img id="px" src="https://127.0.0.1:%d/pixel?'
                        'secure=g1&amp;transaction_id=%s"></body></html>\n'
                        % (https_port, tx2))
            dom = chromium_load("https://127.0.0.1:%d/thanks.html" %
                                page_port, tmp)
            assert "Thank you" in dom, dom
            q = recv.wait_for(2)[1]["query"]
            # The browser connects from 127.0.0.1: nginx says so.
            assert q == {"tx": [tx2], "ip": [CLIENT],
                         "cip": ["127.0.0.1"]}, q
            c.wait_log("matcher-0", "transaction_id=%s result=approved" %
                       tx2)
            assert re.search(r"event=pixel transaction_id=%s result="
                             "approved" % tx2, c.log_text("matcher-0"))
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=20)
        recv.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main([test_https_front])
