"""A loopback HTTP server over a folder of rendered videos, for the demo and the offline hydration tests.

`GET /<platform>/<id>.mp4` serves `ROOT/videos/<platform>/<id[:2]>/<id>.mp4` (the layout of
`mimic_data.render.video_relpath`), so the synthetic urls `https://synthetic.invalid/<platform>/<id>.mp4` hydrate with
`url_map=(("https://synthetic.invalid/", server.base_url + "/"),)`. Faults can be injected per video id:
"404", "403", "429", "429-once" (429 on the first request only), "truncate" (announces the full length, sends half and
closes), "slow" (waits `slow_s` before answering), "stall" (sends half the body, waits `slow_s`, sends the rest),
"garbage" (serves random bytes as video/mp4), "hold-once" (the first request waits until `release` is set or `slow_s`
passes, then fails with 503; `held` maps the video id to that request's client address, so a test can find and kill
the process that made it). `latency_s` delays every answer, like a distant site (the scaling benchmark).
The server also answers requests made to it as an HTTP proxy (absolute URLs): `proxied` counts them per video id, so
a test can check which proxy a worker used.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .download import video_path

FAULTS = ("404", "403", "429", "429-once", "truncate", "slow", "stall", "garbage", "hold-once")


class VideoServer:
    """Context manager: `with VideoServer(root, faults={...}) as server: server.base_url`."""

    def __init__(self, root: str | os.PathLike, faults: dict[str, str] | None = None, slow_s: float = 3.0,
                 latency_s: float = 0.0):
        unknown = {f for f in (faults or {}).values()} - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        self.root, self.faults, self.slow_s, self.latency_s = Path(root), dict(faults or {}), slow_s, latency_s
        self.requests: Counter[str] = Counter()  # video id -> requests seen (tests assert on retries)
        self.proxied: Counter[str] = Counter()  # video id -> requests sent to this server as to a proxy
        self.held: dict[str, tuple[str, int]] = {}  # video id -> client address of its held request
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="video-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> VideoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                target = urlsplit(self.path)  # "/p/id.mp4", or "http://host/p/id.mp4" when asked as a proxy
                parts = target.path.strip("/").split("/")
                if len(parts) != 2 or not parts[1].endswith(".mp4"):
                    return self._status(404)
                platform, video_id = parts[0], parts[1][: -len(".mp4")]
                with server._lock:
                    server.requests[video_id] += 1
                    server.proxied[video_id] += bool(target.scheme)
                    seen = server.requests[video_id]
                if server.latency_s:
                    time.sleep(server.latency_s)
                fault = server.faults.get(video_id)
                if fault == "hold-once" and seen == 1:
                    server.held[video_id] = self.client_address
                    server.release.wait(server.slow_s)
                    try:
                        return self._status(503)
                    except OSError:  # its client was killed while it waited
                        return None
                if fault in ("404", "403", "429") or (fault == "429-once" and seen == 1):
                    return self._status(int(fault[:3]))
                try:  # the same safe-path rule as hydration: an unsafe id is refused before any path is built
                    path = video_path(server.root, platform, video_id)
                except ValueError:
                    return self._status(404)
                if not path.is_file():
                    return self._status(404)
                data = os.urandom(4096) if fault == "garbage" else path.read_bytes()
                if fault == "slow":
                    time.sleep(server.slow_s)
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    half = len(data) // 2
                    self.wfile.write(data[:half] if fault in ("truncate", "stall") else data)
                    if fault == "stall":
                        self.wfile.flush()
                        time.sleep(server.slow_s)
                        self.wfile.write(data[half:])
                if fault == "truncate":
                    self.close_connection = True

            def _status(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
