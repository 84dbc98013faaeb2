"""`mimic release` on a small demo folder (synthetic world, contract-format bench, TINY RANDOM MIMIC-Chat, fixture run
outputs): four validated Hub folders whose cards carry figures read from those files; bad folders are refused."""

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard, ModelCard, SpaceCard
from release_fixtures import FIXTURE_LEADERBOARD, make_demo_dir

from mimic_cli import main as mimic_main
from mimic_release import (
    ARTIFACTS,
    ReleaseError,
    push,
    push_plan,
    release_all,
    validate_dataset_folder,
    validate_model_folder,
)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    demo = make_demo_dir(tmp_path_factory.mktemp("demo"))
    report = release_all(demo, demo / "release", org="test-org")
    return demo, demo / "release", report


def test_four_folders_validate_and_the_report_counts_match_the_files(released):
    demo, out, report = released
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(ARTIFACTS)
    assert json.loads((out / "release_report.json").read_text()) == report
    data = report["artifacts"]["MIMIC-Data"]["configs"]
    assert data["comments"]["snapshot"] == pq.read_metadata(out / "MIMIC-Data" / "comments.parquet").num_rows
    bench = report["artifacts"]["MIMIC-Bench"]["configs"]
    assert set(bench) == {"ciu_title", "ciu_desc", "cam_tag", "cam_topic", "cam_cat", "uiu_match", "uiu_pop",
                          "comment_generation", "videos"}
    assert bench["comment_generation"]["test"] == pq.read_metadata(
        out / "MIMIC-Bench" / "comment_generation.parquet").num_rows
    for name in ("MIMIC-Data", "MIMIC-Bench"):
        assert not [p for p in (out / name).rglob("*") if p.suffix == ".mp4"]
        DatasetCard.load(out / name / "README.md")


def test_model_card_figures_come_from_the_released_weights_and_run_files(released):
    from transformers import AutoModel

    demo, out, report = released
    counts = report["artifacts"]["MIMIC-Chat"]
    assert counts["model_class"] == "MimicChatForConditionalGeneration"
    model = AutoModel.from_pretrained(out / "MIMIC-Chat", trust_remote_code=True)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    card = ModelCard.load(out / "MIMIC-Chat" / "README.md")
    assert "custom_code" in card.data.tags and card.data.pipeline_tag == "video-text-to-text"
    assert card.data.datasets == ["test-org/MIMIC-Data", "test-org/MIMIC-Bench"]
    text = card.text
    assert f"| **total** | {counts['total']:,} |" in text
    assert f"| vision_tower | {counts['components']['vision_tower']:,} |" in text
    assert "| training.learning_rate | 0.0001 |" in text and "| result: train_loss | 3.25 |" in text
    assert r"self_attn\.(q_proj\|k_proj\|v_proj\|o_proj)" in text  # regex pipes escaped inside the table
    assert FIXTURE_LEADERBOARD.strip() in text
    for section in ("## Intended use", "## Limitations and biases", "## Licence", "## Citation", "## How to use"):
        assert section in text


def test_space_folder_runs_from_its_own_files_and_its_rounds_hold_real_and_model_comments(released):
    demo, out, report = released
    space = out / "MIMIC-Chat-Space"
    card = SpaceCard.load(space / "README.md").data
    assert (card.sdk, card.app_file) == ("gradio", "app.py")
    assert card.models == ["test-org/MIMIC-Chat"]
    assert report["artifacts"]["MIMIC-Chat-Space"]["outside_folder"] == []
    assert not list(space.rglob("__pycache__"))  # the start-up check leaves no bytecode in the repo folder
    assert len(report["artifacts"]["MIMIC-Chat-Space"]["example_comments"]) == 2
    rounds = json.loads((space / "space_data" / "rounds.json").read_text())
    references = {r["video_id"]: r["references"] for r in
                  pq.read_table(out / "MIMIC-Bench" / "comment_generation.parquet").to_pylist()}
    assert len(rounds["rounds"]) == 3
    for round_ in rounds["rounds"]:
        humans = [c["text"] for c in round_["comments"] if c["source"] == "human"]
        assert humans == references[round_["video_id"]][:3]
        assert sum(c["source"] == "MIMIC-Chat" for c in round_["comments"]) == 3
        assert (space / "space_data" / round_["file"]).stat().st_size > 0
    all_references = {text for texts in references.values() for text in texts}
    assert rounds["prompts"] and set(rounds["prompts"]) <= {"youtube", "tiktok"}
    assert not [p for p in rounds["prompts"].values() if any(ref in p for ref in all_references)]
    # the model repo and the Space carry the one frame sampler, byte for byte; the Space no copy of the packages
    from modeling_mimic_chat import frames_mimic_chat

    source = Path(frames_mimic_chat.__file__).read_bytes()
    assert (space / "frames_mimic_chat.py").read_bytes() == source
    assert (out / "MIMIC-Chat" / "frames_mimic_chat.py").read_bytes() == source
    assert sorted(p.name for p in space.iterdir() if p.is_dir()) == ["space_data"]


def test_space_requirements_carry_the_project_version_ranges():
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    project = {dep.split(">")[0].split("<")[0].split("=")[0].lower(): dep
               for dep in tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]}
    lines = [line for line in (repo / "space" / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    for line in lines:
        name = line.split(">")[0].split("<")[0].split("=")[0].lower()
        assert project[name] == line, name


def test_a_video_or_an_author_column_in_a_dataset_folder_is_refused(released, tmp_path):
    _, out, _ = released
    with_video = shutil.copytree(out / "MIMIC-Bench", tmp_path / "bench")
    (with_video / "videos" / "youtube" / "ab").mkdir(parents=True)
    (with_video / "videos" / "youtube" / "ab" / "abc.mp4").write_bytes(b"x")
    with pytest.raises(ReleaseError, match="ship no videos.*abc.mp4"):
        validate_dataset_folder(with_video)

    with_author = shutil.copytree(out / "MIMIC-Data", tmp_path / "data")
    comments = pq.read_table(with_author / "comments.parquet")
    comments = comments.append_column("author", pa.array(["someone"] * comments.num_rows))
    pq.write_table(comments, with_author / "comments.parquet")
    with pytest.raises(ReleaseError, match=r"comments.parquet: comment-author column\(s\) \['author'\]"):
        validate_dataset_folder(with_author)


def test_a_model_folder_with_pickled_weights_is_refused(released, tmp_path):
    _, out, _ = released
    folder = shutil.copytree(out / "MIMIC-Chat", tmp_path / "model")
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ReleaseError, match="pytorch_model.bin"):
        validate_model_folder(folder)


def test_push_plans_five_repos_and_stops_before_the_network(released):
    _, out, _ = released
    plan = push_plan(out, "test-org")
    assert [(p["repo_id"], p["repo_type"]) for p in plan] == [
        ("test-org/MIMIC-Data", "dataset"), ("test-org/MIMIC-Bench", "dataset"), ("test-org/MIMIC-Chat", "model"),
        ("test-org/MIMIC-Chat-Space", "space"), ("test-org/mimic_bench", "space")]
    with pytest.raises(ReleaseError, match="HF_HUB_OFFLINE.*nothing was uploaded"):
        push(out, "test-org")
    with pytest.raises(ReleaseError, match="not assembled"):
        push_plan(out / "MIMIC-Data", "test-org")
    with pytest.raises(SystemExit, match="--push needs --org"):
        mimic_main(["release", "--demo", str(out.parent), "--out", str(out), "--push"])
