"""Annotation server: leases, k annotators per item, exactly-once storage under 50 concurrent SIMULATED annotators
over loopback, and a scan of every HTTP response of a scripted session for source labels.
Inputs are the study's SIMULATED fixture bench and generations."""

import json
import re

import httpx
import pyarrow.parquet as pq
import pytest

from mimic_bench.writer import default_study_pool_dir
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
    build_sheet(bench, [gens], tmp_path / "study", pool_dir=default_study_pool_dir(bench), seed=2, secret=SECRET, **kwargs)
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


def _routes(routes, prefix=""):
    """(methods, path) of every route of the app, inside the Gradio mount and its included routers."""
    for route in routes:
        if hasattr(route, "original_router"):  # a router included by the mounted Gradio app
            yield from _routes(route.original_router.routes, prefix)
        elif getattr(route, "routes", None) is not None and not hasattr(route, "methods"):  # a mount
            yield from _routes(route.routes, prefix + route.path)
        else:
            yield sorted(route.methods or []), prefix + route.path


def _fetch(client, method, url, **kwargs):
    """Status and the first 64 KiB of a response; streaming routes (heartbeats, queues) are cut after 2 s."""
    body = b""
    try:
        with client.stream(method, url, timeout=httpx.Timeout(10, read=2), **kwargs) as response:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > 65536:
                    break
            return response.status_code, body
    except httpx.ReadTimeout:
        return 200, body


def test_every_route_leaks_nothing_and_refuses_bench_and_secret_files(tmp_path):
    """The leak scan: a scripted annotator session (Gradio events as the browser sends them, and the JSON API), then
    every route of the app fetched as an annotator, with every file-like parameter pointed at bench, study, secret
    and database files (absolute, relative and ../ forms)."""
    study = make_study(tmp_path, n_videos=3, render_videos=True)
    store = StudyStore(tmp_path / "j.db", study)
    ((_, token),) = store.issue_tokens(1)
    manifest = load_manifest(study)
    design = json.loads((study / "design.json").read_text())
    bench = tmp_path / "bench"
    private_files = [bench / "comment_generation.parquet", default_study_pool_dir(bench) / "study_pool.parquet",
                     study / "secret" / "manifest_secret.parquet", study / "secret" / "study_secret.key",
                     study / "design.json", study / "items_public.parquet", tmp_path / "j.db"]
    secret_hex = (study / "secret" / "study_secret.key").read_text().strip()
    forbidden = [*MODELS, "attention_check", "source_type", "human_rank", "manifest_secret", "study_secret",
                 "study_pool", "duplicate_of_human", "identity_leak", "reference_likes", "comment_generation",
                 secret_hex, SECRET.hex(), str(bench), str(study), design["study_id"], *design["video_files"]]
    served_texts = []
    session_bodies = []
    with BackgroundServer(create_app(store)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        # The Gradio UI as a browser drives it: same session hash, so gr.State persists between events.
        config = client.get("/config").json()
        sign_in_dep, submit_dep = config["dependencies"][:2]
        session_hash = "scriptedsession1"
        join = client.post("/gradio_api/queue/join", json={
            "data": [token], "event_data": None, "fn_index": sign_in_dep["id"], "session_hash": session_hash,
            "trigger_id": sign_in_dep["targets"][0][0]})
        events, output = _sse_until_completed(client, session_hash, join.json()["event_id"])
        session_bodies += [join.text, *events]
        shown, video_html = [output[3]], output[2]
        for _ in range(3):
            join = client.post("/gradio_api/queue/join", json={
                "data": [None, "AI", "2"], "event_data": None, "fn_index": submit_dep["id"],
                "session_hash": session_hash, "trigger_id": submit_dep["targets"][0][0]})
            events, output = _sse_until_completed(client, session_hash, join.json()["event_id"])
            session_bodies += [join.text, *events]
            shown.append(output[3])
        media_url = "/" + re.search(r'src="(media/m_[0-9a-f]{24})"', video_html).group(1)
        assert client.get(media_url).headers["content-type"] == "video/mp4"
        # The JSON API, for a full video's worth of comments.
        session = client.post("/api/signin", json={"token": token}).json()["session"]
        for _ in range(6):
            item = client.post("/api/next", json={"session": session})
            session_bodies.append(item.text)
            assert set(item.json()) == {"done", "item_id", "text", "position", "n_in_video", "video_url"}
            served_texts.append(item.json()["text"])
            body = {"session": session, "item_id": item.json()["item_id"], "judged_human": True, "realism": 4}
            session_bodies.append(client.post("/api/judge", json=body).text)
        media_url = item.json()["video_url"]
        media_bytes = client.get(media_url).content

        # Every route, as an annotator (no session, no token).
        probes = []
        for f in private_files:
            probes += [str(f), str(f).lstrip("/"), f"../../../../../..{f}", str(f.relative_to(tmp_path)),
                       f"{'../' * 8}{f.relative_to('/')}"]
        refused, walked = [], []
        for methods, path in _routes(create_app(store).routes):
            params = re.findall(r"{(\w+)(:path)?}", path)
            fills = [{}]
            if any(kind for _, kind in params):
                fills = [{name: probe if kind else "probe" for name, kind in params} for probe in probes]
            elif params:
                fills = [{name: "probe" for name, _ in params}]
            for fill in fills:
                url = re.sub(r"{(\w+)(:path)?}", lambda m, fill=fill: fill[m.group(1)], path)
                for method in methods:
                    if method == "HEAD":
                        continue
                    status, body = _fetch(client, method, url, **({"json": {}} if method == "POST" else {}))
                    walked.append((method, path, status))
                    text = body.decode("utf-8", "replace")
                    for label in forbidden + served_texts:
                        assert label not in text, (method, url, status, label)
                    for f in private_files:
                        assert f.read_bytes()[:64] not in body, (method, url, status, f)
                    if fill and any(kind for _, kind in params):
                        assert status in (403, 404), (method, url, status)
                        refused.append(url)
        assert len({p for _, p, _ in walked}) > 60 and len(refused) >= 6 * len(probes)  # 6 file-like routes
        assert client.get("/media/m_" + "0" * 24).status_code == 404
        assert client.get("/media/" + "../" * 3 + "bench/comment_generation.parquet").status_code == 404

    everything = "\n".join(session_bodies)
    for label in forbidden:
        assert label not in everything, label
    assert media_bytes[4:8] == b"ftyp"  # the served video is the mp4 the sheet names, nothing else
    item_ids = re.findall(r"it_[0-9a-f]{20}", everything)
    assert item_ids and all(any(i == m["item_id"] for m in manifest) for i in item_ids)
    stored = store.judgments()
    assert len(stored) == 3 + 6  # the Gradio events and the API both stored judgments
    text_of = {m["item_id"]: m["text"] for m in manifest}
    via_gradio = sorted((j for j in stored if j["session_id"] == session_hash), key=lambda j: j["position"])
    assert [text_of[j["item_id"]] for j in via_gradio] == shown[:3]  # each answer went to the comment displayed
    assert [j["position"] for j in via_gradio] == [1, 2, 3]


def test_answers_are_strict_and_one_per_annotator_and_item(tmp_path):
    study = make_study(tmp_path, n_videos=2)
    store = StudyStore(tmp_path / "j.db", study)
    (first, first_token), (_, second_token) = store.issue_tokens(2)
    with BackgroundServer(create_app(store)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        session = client.post("/api/signin", json={"token": first_token}).json()["session"]
        item_id = client.post("/api/next", json={"session": session}).json()["item_id"]
        good = {"session": session, "item_id": item_id, "judged_human": True, "realism": 3}
        for field, value in [("realism", "3"), ("realism", True), ("realism", 3.0), ("realism", 6), ("realism", -1),
                             ("judged_human", "yes"), ("judged_human", 1), ("judged_human", None),
                             ("item_id", 7), ("session", None)]:
            response = client.post("/api/judge", json={**good, field: value})
            assert response.status_code == 422, (field, value, response.text)
        assert client.post("/api/judge", json={**good, "source": "human"}).status_code == 422  # unknown field
        assert client.post("/api/signin", json={"token": 123}).status_code == 422
        assert client.post("/api/signin", json={"token": "guess"}).status_code == 401
        assert store.judgments() == []  # nothing coerced, nothing stored
        assert client.post("/api/judge", json=good).json() == {"status": "stored"}
        assert client.post("/api/judge", json=good).json() == {"status": "duplicate"}  # a client retry
        changed = client.post("/api/judge", json={**good, "realism": 4})
        assert changed.status_code == 409 and "one judgment per item" in changed.json()["detail"]
        # A session is bound to the annotator who signed in: another annotator cannot answer for this item.
        other = client.post("/api/signin", json={"token": second_token}).json()["session"]
        stolen = client.post("/api/judge", json={**good, "session": other})
        assert stolen.status_code == 409 and item_id in stolen.json()["detail"]
        assert client.post("/api/judge", json={**good, "session": "forged"}).status_code == 401
    assert [(j["annotator_id"], j["item_id"], j["realism"]) for j in store.judgments()] == [(first, item_id, 3)]
