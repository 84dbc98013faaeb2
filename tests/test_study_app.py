"""Annotation server: leases, k annotators per item, exactly-once storage under 50 concurrent SIMULATED annotators
over loopback, and a scan of every HTTP response of a scripted session for source labels.
Inputs are the study's SIMULATED fixture bench and generations."""

import json

import httpx
import pyarrow.parquet as pq
import pytest

from mimic_eval.study.app import BackgroundServer, create_app
from mimic_eval.study.export import export_judgments, read_judgments
from mimic_eval.study.loadtest import load_test
from mimic_eval.study.sheet import build_sheet, load_manifest
from mimic_eval.study.simulate import make_fixture_bench, simulate_generations
from mimic_eval.study.store import StudyError, StudyStore

MODELS = {"model-alpha": 0.1, "model-beta": 0.6}
SECRET = bytes(range(32))


def make_study(tmp_path, n_videos=8, render_videos=False, **kwargs):
    bench = make_fixture_bench(tmp_path / "bench", n_videos=n_videos, seed=5, render_videos=render_videos)
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    gens = simulate_generations(rows, MODELS, tmp_path / "gens.jsonl", seed=5)
    build_sheet(bench, [gens], tmp_path / "study", seed=2, secret=SECRET, **kwargs)
    return tmp_path / "study"


class FakeClock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_lease_expiry_reassigns_and_late_answers_are_refused(tmp_path):
    study = make_study(tmp_path, n_videos=1, n_calibration=0, n_attention=0, k=1)
    clock = FakeClock()
    store = StudyStore(tmp_path / "j.db", study, lease_seconds=60, clock=clock)
    (first, _), (second, _) = store.issue_tokens(2)
    item = store.next_item(first)
    assert store.next_item(second) is None  # k = 1 and the only video is leased
    clock.now += 61
    taken_over = store.next_item(second)
    assert taken_over["video_id"] == item["video_id"]
    with pytest.raises(StudyError, match=item["item_id"]):
        store.submit(first, item["item_id"], True, 3)
    assert store.submit(second, taken_over["item_id"], False, 1) == "stored"
    assert store.next_item(first) is None  # the video is fully served now


def test_bad_answers_are_refused_naming_the_item(tmp_path):
    study = make_study(tmp_path, n_videos=2)
    store = StudyStore(tmp_path / "j.db", study)
    ((annotator, token),) = store.issue_tokens(1)
    assert store.sign_in(token) == annotator
    with pytest.raises(StudyError, match="unknown annotator token"):
        store.sign_in("not-a-token")
    item = store.next_item(annotator)
    with pytest.raises(StudyError, match=f"{item['item_id']}.*realism"):
        store.submit(annotator, item["item_id"], True, 6)
    with pytest.raises(StudyError, match="'it_unknown' is not in this study"):
        store.submit(annotator, "it_unknown", True, 2)
    unserved = next(m["item_id"] for m in load_manifest(study) if m["video_id"] != item["video_id"])
    with pytest.raises(StudyError, match=unserved):
        store.submit(annotator, unserved, True, 2)
    # Restarting the server on the same database resumes: nothing lost, same next item.
    assert store.submit(annotator, item["item_id"], True, 2) == "stored"
    reopened = StudyStore(tmp_path / "j.db", study)
    assert len(reopened.judgments()) == 1
    assert reopened.next_item(annotator)["position"] == 2


def test_fifty_concurrent_annotators_store_every_judgment_exactly_once_and_each_item_reaches_k(tmp_path):
    study = make_study(tmp_path, n_videos=8, k=3)
    report = load_test(str(study), str(tmp_path / "j.db"), n_annotators=50, seed=1)
    assert report["errors"] == 0 and report["duplicate"] > 0  # retries happened and were absorbed
    assert report["db_rows_unique"] and report["db_matches_accepted"]
    judgments = read_judgments(tmp_path / "j.db")
    design = json.loads((study / "design.json").read_text())
    per_item = {}
    for j in judgments:
        per_item[j["item_id"]] = per_item.get(j["item_id"], 0) + 1
    for m in load_manifest(study):
        expected = 50 if m["video_id"] in design["calibration_videos"] else 3
        assert per_item.get(m["item_id"]) == expected, m["item_id"]
    assert {j["protocol_version"] for j in judgments} == {"mimic-study/1"}
    assert all(j["answered_at"] >= j["shown_at"] and 1 <= j["position"] for j in judgments)
    export_judgments(judgments, tmp_path / "export", simulated=True)
    from datasets import load_dataset

    loaded = load_dataset(str(tmp_path / "export"), split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == len(judgments)


def _sse_until_completed(client, session_hash, event_id):
    bodies = []
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        for line in stream.iter_lines():
            bodies.append(line)
            if "process_completed" in line and event_id in line:
                return bodies, json.loads(line.removeprefix("data: "))["output"]["data"]
    raise AssertionError("no process_completed event")


def test_no_http_response_of_a_scripted_session_contains_a_source_label(tmp_path):
    study = make_study(tmp_path, n_videos=3, render_videos=True)
    store = StudyStore(tmp_path / "j.db", study)
    ((_, token),) = store.issue_tokens(1)
    manifest = load_manifest(study)
    forbidden = [*MODELS, "attention_check", "source_type", "human_rank", "manifest_secret", SECRET.hex(),
                 "duplicate_of_human", "identity_leak"]
    bodies = []
    with BackgroundServer(create_app(store)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        for path in ("/", "/config", "/gradio_api/info"):
            bodies.append(client.get(path).text)
        # The Gradio UI as a browser drives it: same session hash, so gr.State persists between events.
        config = client.get("/config").json()
        sign_in_dep, submit_dep = config["dependencies"][:2]
        session_hash = "scriptedsession1"
        join = client.post("/gradio_api/queue/join", json={
            "data": [token], "event_data": None, "fn_index": sign_in_dep["id"], "session_hash": session_hash,
            "trigger_id": sign_in_dep["targets"][0][0]})
        bodies.append(join.text)
        events, output = _sse_until_completed(client, session_hash, join.json()["event_id"])
        bodies += events
        shown = [output[3]]
        for _ in range(3):
            join = client.post("/gradio_api/queue/join", json={
                "data": [None, "AI", "2"], "event_data": None, "fn_index": submit_dep["id"],
                "session_hash": session_hash, "trigger_id": submit_dep["targets"][0][0]})
            bodies.append(join.text)
            events, output = _sse_until_completed(client, session_hash, join.json()["event_id"])
            bodies += events
            shown.append(output[3])
        video_url = next(json.loads(b.removeprefix("data: "))["output"]["data"][2]["url"]
                         for b in bodies if "process_completed" in b and ".mp4" in b)
        bodies.append(client.get(video_url).headers.get("content-type", ""))
        # The JSON API, for a full video's worth of comments.
        session = client.post("/api/signin", json={"token": token}).json()["session"]
        for _ in range(6):
            item = client.post("/api/next", json={"session": session})
            bodies.append(item.text)
            body = {"session": session, "item_id": item.json()["item_id"], "judged_human": True, "realism": 4}
            bodies.append(client.post("/api/judge", json=body).text)
        bodies.append(client.get(item.json()["video_url"]).headers.get("content-type", ""))
    stored = store.judgments()
    assert len(stored) == 3 + 6  # the Gradio events and the API both stored judgments
    text_of = {m["item_id"]: m["text"] for m in manifest}
    via_gradio = sorted((j for j in stored if j["session_id"] == session_hash), key=lambda j: j["position"])
    assert [text_of[j["item_id"]] for j in via_gradio] == shown[:3]  # each answer went to the comment displayed
    assert [j["position"] for j in via_gradio] == [1, 2, 3]
    assert "video/mp4" in bodies
    everything = "\n".join(bodies)
    for label in forbidden:
        assert label not in everything, label
