"""The OpenAI-compatible adapter against a loopback server the test starts, and `generate` for the study."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eval_helpers import build_bench

from mimic_data.io import read_jsonl
from mimic_eval.adapters.base import GenerationSettings
from mimic_eval.adapters.registry import build_adapter
from mimic_eval.harness.generate import generate_comments
from mimic_eval.harness.runner import RunOptions, run_eval


class FakeChatServer(ThreadingHTTPServer):
    """Answers "The answer is B." (or a comment); fails the first request of each prompt with 503 to test retries."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests, self.failed, self.lock = [], set(), threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][0]["content"]
        text = content[-1]["text"]
        with self.server.lock:
            first_time = (text, len(content)) not in self.server.failed
            self.server.failed.add((text, len(content)))
            self.server.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if first_time:
            self.send_response(503)
            self.end_headers()
            return
        reply = "so cute lol" if "comment" in text.lower() else "The answer is B."
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    srv = FakeChatServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()


def api_adapter(server, **kw):
    adapter = build_adapter(f"openai:fake-vlm@http://127.0.0.1:{server.server_port}/v1", num_frames=4, batch_size=2,
                            **kw)
    adapter.backoff_s = 0.01
    return adapter


def test_api_adapter_sends_frames_and_prompt_retries_and_is_scored(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    bench = build_bench(tmp_path / "bench", n_videos=2)
    summary = run_eval(api_adapter(server), bench, tmp_path / "run",
                       RunOptions(tasks=["cam_tag"], conditions=["video", "blind"], progress=False))
    ok = server.requests
    assert len(server.requests) == 2 * 4  # 4 samples, each failed once with 503 and then answered
    video_request = next(r for r in ok if len(r["body"]["messages"][0]["content"]) > 1)["body"]
    images = [c for c in video_request["messages"][0]["content"] if c["type"] == "image_url"]
    assert len(images) == 4 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert video_request["model"] == "fake-vlm" and video_request["temperature"] == 0.0
    assert {r["auth"] for r in server.requests} == {"Bearer sk-test"}
    blind_request = next(r for r in ok if len(r["body"]["messages"][0]["content"]) == 1)["body"]
    assert "A. " in blind_request["messages"][0]["content"][0]["text"]
    result = summary["results"]["by_condition"]["video"]
    assert result["overall"]["unparsed_rate"] == 0.0 and result["parse_rules"] == {"anchored": 2}
    gold_b = [r for r in read_jsonl(tmp_path / "run" / "samples.jsonl") if r["gold"] == "B"]
    assert result["overall"]["n_correct"] == sum(r["condition"] == "video" for r in gold_b)


def test_api_errors_mark_samples_and_a_rerun_retries_them(tmp_path):
    bench = build_bench(tmp_path / "bench", n_videos=2)
    dead = build_adapter("openai:m@http://127.0.0.1:9/v1", num_frames=4)  # nothing listens on port 9
    dead.max_retries, dead.timeout_s = 0, 2
    summary = run_eval(dead, bench, tmp_path / "run", RunOptions(tasks=["cam_tag"], progress=False))
    assert summary["telemetry"]["errors"] == 2
    assert summary["results"]["coverage"]["video"]["pending_or_error"] == 2
    statuses = [r["status"] for r in read_jsonl(tmp_path / "run" / "samples.jsonl")]
    assert statuses == ["error", "error"]
    assert run_eval(dead, bench, tmp_path / "run", RunOptions(tasks=["cam_tag"], progress=False))["inferred"] == 2


def test_generate_writes_one_comment_per_video_in_the_study_format_and_resumes(server, tmp_path):
    from mimic_eval.study.sheet import load_generations

    bench = build_bench(tmp_path / "bench", n_videos=3)
    (bench / "videos" / "tiktok" / "v0" / "v001x.mp4").unlink()
    out = tmp_path / "gen" / "fake.jsonl"
    settings = GenerationSettings(max_new_tokens=30, do_sample=True, temperature=0.7, seed=1)
    summary = generate_comments(api_adapter(server), bench, out, settings, progress=False)
    assert summary["written"] == 2 and summary["without_comment"] == ["v001x"]
    rows = list(read_jsonl(out))
    assert [set(r) for r in rows] == [{"video_id", "model", "text", "sampling"}] * 2
    assert rows[0]["text"] == "so cute lol" and rows[0]["sampling"]["temperature"] == 0.7
    assert set(load_generations([out], {"v000x", "v001x", "v002x"})) == {("v000x", "fake-vlm"), ("v002x", "fake-vlm")}
    n_requests = len(server.requests)
    again = generate_comments(api_adapter(server), bench, out, settings, progress=False)
    assert again["written"] == 2 and len(server.requests) == n_requests  # settled videos are not asked again
