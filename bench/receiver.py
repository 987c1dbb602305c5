#!/usr/bin/env python3
"""Affiliate stand-in for bench/run: answers every request 200 and writes
one line per arrival, "UNIX_TIME_SECONDS<TAB>QUERY_VALUE_OF_tx", to OUT.

    receiver.py PORT_FILE OUT

It listens on 127.0.0.1 on a free port, writes the port to PORT_FILE once
it is listening (bench/run waits for that file), and runs until SIGTERM.
Keep-alive HTTP/1.1, a thread per connection: enough for ~1k requests/s,
which is all the latency benchmark asks of it.
"""

import http.server
import os
import signal
import sys
import threading
import time
import urllib.parse


def main():
    port_file, out_path = sys.argv[1], sys.argv[2]
    out = open(out_path, "w", buffering=1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY the
        # body waits for the client's delayed ACK (40 ms).
        disable_nagle_algorithm = True

        def handle_any(self):
            now = time.time()
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(
                self.path).query)
            tx = query.get("tx", [""])[0]
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")
            with lock:
                out.write("%.6f\t%s\n" % (now, tx))

        do_GET = handle_any
        do_POST = handle_any

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        # The firer opens up to max-per-host connections at once; with
        # socketserver's listen queue of 5 the kernel drops the rest,
        # whose clients try again a second later.
        request_queue_size = 1024
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, port_file)
    try:
        server.serve_forever()
    finally:
        out.close()


if __name__ == "__main__":
    main()
