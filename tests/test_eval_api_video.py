"""The OpenAI-compatible adapter against a scripted loopback server (as vLLM/SGLang speak it): a bounded pool of
requests in flight, retries with backoff (and Retry-After) on 429/5xx and timeouts, one-line failures, and both video
forms (frames as image_url parts; one video_url mp4, inline or as a file:// URL) under every condition."""

import base64
import io
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import pytest
from eval_helpers import build_bench

from mimic_eval.adapters.base import McqRequest
from mimic_eval.adapters.openai_api import ApiError
from mimic_eval.adapters.registry import build_adapter
from mimic_eval.harness.runner import RunOptions, run_eval


class ScriptedServer(ThreadingHTTPServer):
    """`script(prompt, attempt)` -> (status, headers, delay_s) per request; 200 replies echo "B: <prompt>"."""

    def __init__(self, script=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = script or (lambda prompt, attempt: (200, {}, 0.0))
        self.lock = threading.Lock()
        self.bodies, self.attempts, self.in_flight, self.max_in_flight = [], {}, 0, 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"][-1]["text"]
        with self.server.lock:
            attempt = self.server.attempts.get(prompt, 0)
            self.server.attempts[prompt] = attempt + 1
            self.server.bodies.append(body)
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        status, headers, delay = self.server.script(prompt, attempt)
        time.sleep(delay)
        with self.server.lock:
            self.server.in_flight -= 1
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": f"B: {prompt}"}}]}
                             if status == 200 else {"error": f"scripted {status}"}).encode()
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass


@pytest.fixture
def serve():
    servers = []

    def start(script=None):
        server = ScriptedServer(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()


def adapter_for(server, **api):
    return build_adapter(f"openai:vlm@http://127.0.0.1:{server.server_port}/v1", num_frames=4,
                         batch_size=api.pop("batch_size", 1), api={"max_retries": 3, **api})


def test_requests_run_in_a_bounded_pool_and_keep_their_order(serve):
    server = serve(lambda prompt, attempt: (200, {}, 0.15))
    adapter = adapter_for(server, batch_size=3)
    answers = {}

    def ask(tag):
        answers[tag] = [a.response for a in adapter.answer([McqRequest(f"{tag}{i}", None) for i in range(4)])]

    callers = [threading.Thread(target=ask, args=(tag,)) for tag in "pq"]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert answers == {tag: [f"B: {tag}{i}" for i in range(4)] for tag in "pq"}
    assert server.max_in_flight == 3  # two callers, 8 requests, never more than batch_size at once


def test_429_and_5xx_are_retried_with_backoff_and_retry_after(serve):
    replies = {0: (429, {"Retry-After": "0.2"}, 0.0), 1: (503, {}, 0.0)}
    server = serve(lambda prompt, attempt: replies.get(attempt, (200, {}, 0.0)))
    adapter = adapter_for(server, backoff_s=0.05)
    start = time.perf_counter()
    assert adapter.answer([McqRequest("q", None)])[0].response == "B: q"
    assert server.attempts == {"q": 3} and time.perf_counter() - start >= 0.2 + 0.1  # Retry-After, then 0.05 * 2


def test_failures_are_one_line_naming_the_endpoint_and_attempts(serve):
    server = serve(lambda prompt, attempt: (400 if prompt == "bad" else 500, {}, 0.0))
    adapter = adapter_for(server, backoff_s=0.01)
    with pytest.raises(ApiError, match=r"^http://127.0.0.1:\d+/v1/chat/completions \(vlm\) failed after 1 attempt\(s\): "
                                       r"HTTP 400: \{\"error\": \"scripted 400\"\}$"):
        adapter.answer([McqRequest("bad", None)])  # a client error is not retried
    with pytest.raises(ApiError, match=r"failed after 4 attempt\(s\): HTTP 500"):
        adapter.answer([McqRequest("down", None)])
    assert server.attempts == {"bad": 1, "down": 4}


def test_a_request_past_its_timeout_is_abandoned_and_retried(serve):
    server = serve(lambda prompt, attempt: (200, {}, 1.5 if attempt == 0 else 0.0))
    adapter = adapter_for(server, timeout_s=0.3, backoff_s=0.01)
    start = time.perf_counter()
    assert adapter.answer([McqRequest("slow", None)])[0].response == "B: slow"
    assert server.attempts == {"slow": 2} and time.perf_counter() - start < 1.2


def _video_parts(body):
    return [part for part in body["messages"][0]["content"] if part["type"] != "text"]


def _decode_mp4(url: str) -> tuple[np.ndarray, float]:
    if url.startswith("data:video/mp4;base64,"):
        source = io.BytesIO(base64.b64decode(url.split(",", 1)[1]))
    else:
        source = urllib.parse.urlparse(url).path
    with av.open(source) as container:
        stream = container.streams.video[0]
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
        return frames, float(stream.average_rate)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build_bench(tmp_path_factory.mktemp("bench"), n_videos=1, tasks=("cam_tag",))  # 3 s, red with a bar


@pytest.mark.parametrize("form", ["frames", "video_url", "video_url+media_dir"])
def test_both_video_forms_carry_the_sampled_frames_of_each_condition(serve, bench, tmp_path, form):
    server = serve()
    media_dir = tmp_path / "media" if form.endswith("media_dir") else None
    api = {"video_form": form.split("+")[0], "media_dir": str(media_dir) if media_dir else None}
    adapter = adapter_for(server, **api)
    summary = run_eval(adapter, bench, tmp_path / "run", RunOptions(tasks=["cam_tag"], progress=False,
                                                                     conditions=["video", "blank", "blind"]))
    assert summary["telemetry"]["samples"] == 3 and summary["results"]["by_condition"]["video"]["overall"]["n"] == 1
    video, blank, blind = (_video_parts(body) for body in server.bodies)
    assert blind == []
    if form == "frames":
        assert [len(video), len(blank)] == [4, 4] and {p["type"] for p in video + blank} == {"image_url"}
        assert video[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
        assert "video_form" not in adapter.identity()  # the default: older run folders keep their keys
        return
    assert [p["type"] for p in video + blank] == ["video_url", "video_url"]
    urls = [video[0]["video_url"]["url"], blank[0]["video_url"]["url"]]
    if media_dir:
        assert all(url.startswith(f"file://{media_dir}/") for url in urls)
        assert sorted(p.name for p in media_dir.iterdir()) == sorted(Path(urllib.parse.urlparse(u).path).name
                                                                     for u in urls)
    else:
        assert all(url.startswith("data:video/mp4;base64,") for url in urls)
    frames, fps = _decode_mp4(urls[0])
    assert frames.shape[0] == 4 and fps == pytest.approx(4 / 3.0, rel=1e-3)  # the sampled frames at their rate
    assert frames[..., 0].mean() > 150 and frames[..., 2].mean() < 60  # the clip is red
    black, _ = _decode_mp4(urls[1])
    assert black.shape == frames.shape and black.mean() < 5
    assert adapter.identity()["video_form"] == "video_url"


def test_media_dir_without_video_url_is_refused():
    with pytest.raises(ValueError, match="--media-dir holds mp4s for --video-form video_url"):
        build_adapter("openai:m@http://127.0.0.1:9/v1", api={"media_dir": "/tmp/x"})
