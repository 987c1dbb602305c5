#!/usr/bin/env python3
"""A demo HTTP receiver for ./run: prints every request it gets, answers
200.  Stands in for the advertiser's landing page and the affiliate's
postback endpoint.  Usage: receiver.py ADDR PORT"""

import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        print("receiver: %s %s %s" % (self.command, self.path,
                                      body.decode("utf-8", "replace")),
              flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    do_GET = answer
    do_POST = answer

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    # The firer opens up to max-per-host connections at once: a listen
    # queue of socketserver's 5 would make the rest wait a second.
    request_queue_size = 1024


if __name__ == "__main__":
    Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
