"""Blind-test sheet: public columns only, no source label anywhere public, determinism, clear input errors.
Uses the study's SIMULATED fixture bench and generations (no real data)."""

import json

import pyarrow.parquet as pq
import pytest

from mimic_bench.writer import default_study_pool_dir
from mimic_data.io import append_jsonl
from mimic_eval.study.sheet import StudyInputError, build_sheet, has_identity_leak, load_manifest, normalise_display
from mimic_eval.study.simulate import make_fixture_bench, simulate_generations

MODELS = {"model-alpha": 0.1, "model-beta": 0.6}
SECRET = bytes(range(32))


@pytest.fixture()
def inputs(tmp_path):
    bench = make_fixture_bench(tmp_path / "bench", n_videos=6, seed=3)
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    gens = simulate_generations(rows, MODELS, tmp_path / "gens.jsonl", seed=3)
    return bench, gens


def test_public_sheet_has_no_source_labels_and_every_video_is_complete(inputs, tmp_path):
    bench, gens = inputs
    design = build_sheet(bench, [gens], tmp_path / "study", pool_dir=default_study_pool_dir(bench), seed=1, secret=SECRET, n_attention=3)
    public = pq.read_table(tmp_path / "study" / "items_public.parquet")
    assert public.column_names == ["item_id", "video_id", "text"]
    public_bytes = (tmp_path / "study" / "items_public.parquet").read_bytes()
    design_text = (tmp_path / "study" / "design.json").read_text()
    for label in [*MODELS, "attention_check", "source"]:
        assert label.encode() not in public_bytes
        assert label not in design_text
    manifest = load_manifest(tmp_path / "study")
    assert len(manifest) == design["n_items"] == public.num_rows
    by_video = {}
    for m in manifest:
        by_video.setdefault(m["video_id"], []).append(m["source"])
    assert len(by_video) == 6
    for sources in by_video.values():
        assert sources.count("human") == 5 and sources.count("model-alpha") == 1 and sources.count("model-beta") == 1
    assert sum(s.count("attention_check") for s in by_video.values()) == 3
    # Attention checks sit in the calibration videos first, so every annotator meets them.
    calibration = set(design["calibration_videos"])
    assert {m["video_id"] for m in manifest if m["source"] == "attention_check"} & calibration == calibration
    # Item ids are opaque: no source name, no sequence.
    assert all(i.startswith("it_") and len(i) == 23 for i in public.column("item_id").to_pylist())


def test_same_seed_and_secret_give_identical_bytes_and_a_new_secret_new_ids(inputs, tmp_path):
    bench, gens = inputs
    for name in ("a", "b"):
        build_sheet(bench, [gens], tmp_path / name, pool_dir=default_study_pool_dir(bench), seed=7, secret=SECRET)
    assert (tmp_path / "a/items_public.parquet").read_bytes() == (tmp_path / "b/items_public.parquet").read_bytes()
    build_sheet(bench, [gens], tmp_path / "c", pool_dir=default_study_pool_dir(bench), seed=7, secret=b"another secret key of 32 bytes!!")
    ids_a = set(pq.read_table(tmp_path / "a/items_public.parquet").column("item_id").to_pylist())
    ids_c = set(pq.read_table(tmp_path / "c/items_public.parquet").column("item_id").to_pylist())
    assert not ids_a & ids_c
    # Without a given secret a random one is created, kept private and reused on rebuild.
    build_sheet(bench, [gens], tmp_path / "d", pool_dir=default_study_pool_dir(bench), seed=7)
    key = tmp_path / "d/secret/study_secret.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    first = (tmp_path / "d/items_public.parquet").read_bytes()
    build_sheet(bench, [gens], tmp_path / "d", pool_dir=default_study_pool_dir(bench), seed=7)
    assert (tmp_path / "d/items_public.parquet").read_bytes() == first


def test_bad_generation_rows_name_file_and_line(inputs, tmp_path):
    bench, gens = inputs
    bad = tmp_path / "bad.jsonl"
    append_jsonl(bad, {"video_id": "sim3v0000", "model": "m", "text": "ok"})
    append_jsonl(bad, {"video_id": "nope", "model": "m", "text": "x"})
    with pytest.raises(StudyInputError, match=r"bad.jsonl:2: video 'nope' is not in the bench"):
        build_sheet(bench, [bad], tmp_path / "s", pool_dir=default_study_pool_dir(bench), secret=SECRET)
    dup = tmp_path / "dup.jsonl"
    append_jsonl(dup, {"video_id": "sim3v0000", "model": "m", "text": "a"})
    append_jsonl(dup, {"video_id": "sim3v0000", "model": "m", "text": "b"})
    with pytest.raises(StudyInputError, match=r"dup.jsonl:2: second generation"):
        build_sheet(bench, [dup], tmp_path / "s", pool_dir=default_study_pool_dir(bench), secret=SECRET)
    reserved = tmp_path / "reserved.jsonl"
    append_jsonl(reserved, {"video_id": "sim3v0000", "model": "human", "text": "a"})
    with pytest.raises(StudyInputError, match="reserved"):
        build_sheet(bench, [reserved], tmp_path / "s", pool_dir=default_study_pool_dir(bench), secret=SECRET)
    with pytest.raises(StudyInputError, match="comment_generation.parquet not found"):
        build_sheet(tmp_path / "missing", [gens], tmp_path / "s", pool_dir=default_study_pool_dir(bench), secret=SECRET)


def test_display_normalisation_flags_and_identity_scan(tmp_path):
    assert normalise_display('  Here is a comment: "So cute!!"  ', is_human=False) == (
        "So cute!!", ["whitespace", "preamble", "wrapping_quotes"])
    assert normalise_display("@bob lol same", is_human=True) == ("lol same", ["handle"])
    assert normalise_display("@bob lol same", is_human=False) == ("@bob lol same", [])
    assert has_identity_leak("As an AI, I cannot watch videos")
    assert has_identity_leak("Qwen thinks this is fun")
    assert not has_identity_leak("that gptx joke")  # whole words only
    bench = make_fixture_bench(tmp_path / "bench", n_videos=2, seed=0)
    refs = pq.read_table(bench / "comment_generation.parquet").to_pylist()[0]
    pool = pq.read_table(default_study_pool_dir(bench) / "study_pool.parquet").to_pylist()[0]
    assert pool["video_id"] == refs["video_id"]
    gens = tmp_path / "g.jsonl"
    append_jsonl(gens, {"video_id": refs["video_id"], "model": "copycat", "text": pool["comments"][0].upper(),
                        "sampling": {"temperature": 0.7}})
    append_jsonl(gens, {"video_id": refs["video_id"], "model": "parrot", "text": refs["references"][0]})
    append_jsonl(gens, {"video_id": refs["video_id"], "model": "leaky", "text": "As an AI I cannot watch videos."})
    build_sheet(bench, [gens], tmp_path / "s", pool_dir=default_study_pool_dir(bench), secret=SECRET, n_attention=0)
    flags = {m["source"]: m for m in load_manifest(tmp_path / "s") if m["source"] != "human"}
    assert flags["copycat"]["duplicate_of_human"] and not flags["copycat"]["identity_leak"]
    assert flags["parrot"]["found_in_public"] and not flags["parrot"]["duplicate_of_human"]  # a public reference
    assert flags["leaky"]["identity_leak"] and not flags["leaky"]["duplicate_of_human"]
    assert not flags["leaky"]["found_in_public"] and not flags["copycat"]["found_in_public"]
    assert json.loads(flags["copycat"]["sampling"]) == {"temperature": 0.7}


def _write_public_copy(folder, text):
    """A public folder (like a MIMIC-Data release) whose comments table holds `text` among others."""
    import pyarrow as pa

    from mimic_data.io import write_parquet

    write_parquet(folder / "comments.parquet", pa.table({"video_id": ["x", "y"], "text": ["unrelated words", text]}))
    return folder


def test_human_items_come_from_the_private_pool_and_a_published_one_refuses_the_study(inputs, tmp_path, capsys):
    from mimic_cli import main
    from mimic_eval.study.sheet import StudyLeakError
    from mimic_eval.study.store import StudyStore

    bench, gens = inputs
    build_sheet(bench, [gens], tmp_path / "study", pool_dir=default_study_pool_dir(bench), secret=SECRET)
    pool = {r["video_id"]: r["comments"] for r in
            pq.read_table(default_study_pool_dir(bench) / "study_pool.parquet").to_pylist()}
    public_refs = {t for r in pq.read_table(bench / "comment_generation.parquet").to_pylist() for t in r["references"]}
    human = [m for m in load_manifest(tmp_path / "study") if m["source"] == "human"]
    assert len(human) == 6 * 5
    assert all(m["text"] in pool[m["video_id"]] for m in human)
    assert not {m["text"] for m in human} & public_refs
    # Published elsewhere (same text, other case and an emoji): the build and the server both refuse, naming it.
    leaked = human[0]["text"]
    public = _write_public_copy(tmp_path / "MIMIC-Data", leaked.upper() + " 😂")
    with pytest.raises(StudyLeakError, match=r"1 human study items found verbatim .*MIMIC-Data/comments.parquet"):
        build_sheet(bench, [gens], tmp_path / "s2", pool_dir=default_study_pool_dir(bench), secret=SECRET,
                    public_dirs=[public])
    with pytest.raises(StudyLeakError, match="MIMIC-Data"):
        StudyStore(tmp_path / "j.db", tmp_path / "study", public_dirs=(public,))
    code = main(["study", "tokens", "--study", str(tmp_path / "study"), "--db", str(tmp_path / "j.db"), "--n", "1",
                 "--out", str(tmp_path / "tokens.csv"), "--public", str(public)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "human study items found verbatim" in err
    assert not (tmp_path / "tokens.csv").exists()
    # The bench itself changing after the build (a pool comment now a reference) also stops the study from starting.
    table = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    table[-1]["references"] = [*table[-1]["references"], leaked]
    import pyarrow as pa

    from mimic_data.io import write_parquet

    write_parquet(bench / "comment_generation.parquet", pa.Table.from_pylist(table))
    with pytest.raises(StudyLeakError, match="comment_generation.parquet"):
        StudyStore(tmp_path / "j.db", tmp_path / "study")


def test_validate_flags_cross_video_repeats_and_style_cues(inputs, tmp_path):
    from mimic_cli import main

    bench, gens = inputs
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    repetitive = tmp_path / "repetitive.jsonl"
    for i, row in enumerate(rows):
        # The same comment everywhere, once with a trailing variation (a near-duplicate, not an exact one).
        text = "What a great video! The colours and the movement are very well done." + (" Wow." if i == 0 else "")
        append_jsonl(repetitive, {"video_id": row["video_id"], "model": "parrot", "text": text})
    build_sheet(bench, [gens, repetitive], tmp_path / "study", pool_dir=default_study_pool_dir(bench), secret=SECRET)
    out = tmp_path / "quality.json"
    assert main(["study", "validate", "--study", str(tmp_path / "study"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    parrot = report["sources"]["parrot"]
    assert parrot["cross_video_duplicate_share"] == pytest.approx(5 / 6)
    assert parrot["cross_video_near_duplicate_share"] == pytest.approx(1 / 6)
    assert parrot["most_repeated"][0].startswith("What a great video!")
    assert parrot["emoji_share"] == 0.0 and parrot["length_ks_vs_human"] > 0.5
    assert any("repeat another video" in f for f in parrot["flags"])
    human = report["sources"]["human"]  # the fixture's real comments repeat too, from their templates
    assert human["cross_video_duplicate_share"] < parrot["cross_video_duplicate_share"]
    assert human["length_ks_vs_human"] == 0.0 and not any("lengths" in f or "emoji" in f for f in human["flags"])
    assert "parrot" in report["flagged_sources"]
    assert main(["study", "validate", "--study", str(tmp_path / "study"), "--out", str(out), "--strict"]) == 1
