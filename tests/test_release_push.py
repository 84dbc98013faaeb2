"""`mimic release --push` against a recording stand-in for HfApi (no network): every planned repo is created and
uploaded, and gating is switched on, after the upload, exactly for the repos whose card asks for it."""

import pytest
from huggingface_hub import constants

import mimic_release
from mimic_cli import main as mimic_main
from mimic_release import ARTIFACTS, ReleaseError, push

GATED_CARD = "---\nlicense: cc-by-nc-4.0\nextra_gated_prompt: research only\nextra_gated_fields:\n  Name: text\n---\n# x\n"
OPEN_CARD = "---\nlicense: apache-2.0\n---\n# x\n"


class RecordingApi:
    calls: list = []

    def __init__(self, token=None):
        self.token = token

    def __getattr__(self, name):
        def record(*args, **kwargs):
            RecordingApi.calls.append((name, args, kwargs))
            return f"https://hub.invalid/{name}/{args[0] if args else kwargs.get('repo_id')}"
        return record


@pytest.fixture
def assembled(tmp_path, monkeypatch):
    for name, kind in ARTIFACTS.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "README.md").write_text(GATED_CARD if kind == "dataset" else OPEN_CARD)
    RecordingApi.calls = []
    monkeypatch.setattr("huggingface_hub.HfApi", RecordingApi)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path


def test_push_uploads_every_repo_and_gates_the_datasets_after_their_upload(assembled):
    urls = push(assembled, "my-org", token="hf_x", gated="manual")
    assert len(urls) == len(ARTIFACTS)
    calls = [(name, kwargs.get("repo_type"), args[0] if args else kwargs["repo_id"])
             for name, args, kwargs in RecordingApi.calls]
    gated = [(repo, kwargs["gated"]) for name, args, kwargs in RecordingApi.calls if name == "update_repo_settings"
             for repo in args]
    assert gated == [("my-org/MIMIC-Data", "manual"), ("my-org/MIMIC-Bench", "manual")]
    for repo_id in ("my-org/MIMIC-Data", "my-org/MIMIC-Bench"):
        order = [name for name, _, repo in calls if repo == repo_id]
        assert order == ["create_repo", "upload_folder", "update_repo_settings"]
    uploaded = {repo: kind for name, kind, repo in calls if name == "upload_folder"}
    assert uploaded == {f"my-org/{name}": kind for name, kind in ARTIFACTS.items()}
    space_creates = [kwargs for name, args, kwargs in RecordingApi.calls if name == "create_repo"
                     and kwargs["repo_type"] == "space"]
    assert len(space_creates) == 2 and all(k["space_sdk"] == "gradio" for k in space_creates)


def test_the_cli_passes_the_gating_mode_and_refuses_an_unknown_one(assembled, monkeypatch, capsys):
    monkeypatch.setattr(mimic_release, "release_all", lambda *args, **kwargs: {})
    assert mimic_main(["release", "--out", str(assembled), "--org", "my-org", "--push"]) == 0
    assert {kwargs["gated"] for name, _, kwargs in RecordingApi.calls if name == "update_repo_settings"} == {"auto"}
    assert "pushed my-org/MIMIC-Bench (dataset, gated auto)" in capsys.readouterr().out
    with pytest.raises(ReleaseError, match="gated must be one of auto, manual"):
        push(assembled, "my-org", gated="yes")


def test_validating_an_unhydrated_bench_does_not_warn_per_config(tmp_path, caplog):
    import json

    from eval_helpers import build_bench

    from mimic_bench.release import CONFIGS, release
    from mimic_bench.writer import BUILD_STATS
    from mimic_release import validate_dataset_folder

    built = build_bench(tmp_path / "build", n_videos=2, with_videos=False)
    (built / BUILD_STATS).write_text(json.dumps({"seed": 0, "embedder": "hash"}))
    checked = validate_dataset_folder(release(built, tmp_path / "MIMIC-Bench"))
    assert set(checked["configs"]) == set(CONFIGS)
    assert "params were ignored" not in caplog.text
