"""The benchmark's feed server: static files on loopback with ETag, Last-Modified and 304.

Run as its own process (so its CPU and memory are not counted against the client)::

    python tests/benchmarks/fixture_server.py DIRECTORY PORT_FILE

It writes the chosen port to PORT_FILE and serves until killed. Files are held in memory.
"""

from __future__ import annotations

import hashlib
import sys
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {".rss": "application/rss+xml; charset=utf-8",
         ".atom": "application/atom+xml; charset=utf-8"}


def serve(directory: Path, port_file: Path) -> None:
    files: dict[str, tuple[bytes, str, str, str]] = {}
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
        stamp = formatdate(path.stat().st_mtime, usegmt=True)
        files["/" + path.name] = (data, etag, stamp, TYPES.get(path.suffix, "application/xml"))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As production servers do (nginx: tcp_nodelay on): without it a body sent after the
        # headers waits for the client's delayed ACK, up to 40 ms a response on loopback.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            found = files.get(self.path.split("?")[0])
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data, etag, stamp, kind = found
            fresh = self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-None-Match") is None
                and self.headers.get("If-Modified-Since") == stamp
            )
            self.send_response(304 if fresh else 200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", stamp)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", "0" if fresh else str(len(data)))
            self.end_headers()
            if not fresh:
                self.wfile.write(data)

    ThreadingHTTPServer.request_queue_size = 256
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port_file.write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]))
