"""MIMIC-Chat composed from pretrained parts (`mimic train init`): tiny random Llama / Qwen2 LMs and TimeSformer / SigLIP /
VideoMAE towers, saved by this module under a temporary folder, stand in for real checkpoints.

Random weights and random frames: only exact reproduction, shapes, dtypes and wiring are meaningful here.
"""

import json
import subprocess
import sys

import pytest
import torch
from datasets import Dataset
from safetensors import safe_open
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from train_helpers import RandomFrames, smoke_rows, tiny_recipe
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    SiglipVisionConfig,
    SiglipVisionModel,
    TimesformerConfig,
    TimesformerModel,
    VideoMAEConfig,
    VideoMAEModel,
)

import mimic_cli
from mimic_release import BLOCK_PROJECT_IMPORTS
from mimic_train.collator import SFTCollator
from mimic_train.export import export_model
from mimic_train.sft import InitError, check_init, init_from_parts, load_mimic_chat, run_sft
from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration

SIDE, TEMPORAL = 32, 16
TOWER_WIDTH = 32
SIGLIP_STATS = [0.5, 0.5, 0.5]
# (LM, tower) pairs composed once per module: every LM and every tower appears at least once.
COMBOS = [("llama", "timesformer"), ("qwen2", "siglip"), ("llama", "videomae")]
TEXT = "a red ball rolls left"
# MIMIC-Chat's special tokens, none of which the tiny LMs' tokenizer has (it knows only "</s>").
NEW_TOKENS = ["<|im_start|>", "<|im_end|>", "[VID]", "[SEP]", "<|video_pad|>", "<|pad|>"]


def _tower_kwargs():
    return {"image_size": SIDE, "patch_size": 8, "hidden_size": TOWER_WIDTH, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 64}


def _lm_kwargs():
    return {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2}


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """Folders of tiny random checkpoints, like downloaded ones: LMs with a BPE tokenizer lacking MIMIC-Chat's tokens."""
    root = tmp_path_factory.mktemp("parts")
    torch.manual_seed(0)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator([TEXT, "the cat jumps up onto a blue sofa", "love it lol"] * 20, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="</s>")
    # Qwen2 pads its embedding matrix past the tokenizer and ties lm_head to it, as the small Qwen2 checkpoints do.
    lms = {"llama": LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), **_lm_kwargs())),
           "qwen2": Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tokenizer) + 10, tie_word_embeddings=True,
                                                 **_lm_kwargs()))}
    for name, lm in lms.items():
        lm.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    TimesformerModel(TimesformerConfig(num_frames=8, **_tower_kwargs())).save_pretrained(root / "timesformer")
    SiglipVisionModel(SiglipVisionConfig(**_tower_kwargs())).save_pretrained(root / "siglip")
    (root / "siglip" / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": SIGLIP_STATS, "image_std": SIGLIP_STATS}))
    VideoMAEModel(VideoMAEConfig(num_frames=8, tubelet_size=2, **_tower_kwargs())).save_pretrained(root / "videomae")
    return root, {name: lm.eval() for name, lm in lms.items()}


@pytest.fixture(scope="module")
def composed(parts):
    """`mimic train init` for each pair: {(lm, tower): MIMIC-Chat folder}."""
    root, _ = parts
    folders = {}
    for lm, tower in COMBOS:
        out = root / f"mimic-{lm}-{tower}"
        assert mimic_cli.main(["train", "init", "--lm", str(root / lm), "--vision", str(root / tower), "--out",
                               str(out), "--temporal-num-frames", str(TEMPORAL), "--spatial-pool-grid", "2"]) == 0
        folders[lm, tower] = out
    return folders


def _text_ids(tokenizer) -> torch.Tensor:
    return torch.tensor([tokenizer(TEXT)["input_ids"]])


@pytest.mark.parametrize("lm, tower", COMBOS[:2])
def test_text_only_logits_equal_the_source_lm_and_new_token_rows_start_at_the_mean(parts, composed, lm, tower):
    root, sources = parts
    model, processor = load_mimic_chat(composed[lm, tower])
    tokenizer = processor.tokenizer
    source = sources[lm]
    source_rows = source.get_input_embeddings().weight.shape[0]
    with torch.no_grad():
        expected = source(_text_ids(tokenizer)).logits
        got = model.eval()(_text_ids(tokenizer)).logits
    assert got.shape[-1] == max(source_rows, len(tokenizer))
    own = AutoTokenizer.from_pretrained(root / lm)  # Qwen2's class brings <|endoftext|> as its pad token
    own_tokens = len(own)  # the new tokens' rows (and logits) follow the LM's own
    torch.testing.assert_close(got[..., :own_tokens], expected[..., :own_tokens], rtol=1e-5, atol=1e-5)

    new_ids = sorted(set(tokenizer.get_vocab().values()) - set(own.get_vocab().values()))
    assert new_ids == list(range(own_tokens, len(tokenizer)))  # Qwen2: inside its padded embedding rows
    assert set(tokenizer.convert_tokens_to_ids(["[VID]", "[SEP]", "<|video_pad|>", "<|im_end|>"])) <= set(new_ids)
    embeddings = model.get_input_embeddings().weight
    mean = source.get_input_embeddings().weight[:own_tokens].mean(dim=0)
    for row in new_ids:
        torch.testing.assert_close(embeddings[row], mean)
    assert model.config.video_token_id == tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert model.config.text_config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.pad_token is not None and tokenizer.padding_side == "left"
    assert model.config.tie_word_embeddings is (lm == "qwen2")


def test_each_tower_adapter_lays_out_frames_in_time_order(composed):
    video = torch.randn(1, TEMPORAL, 3, SIDE, SIDE)
    for (_, tower), folder in composed.items():
        model = load_mimic_chat(folder)[0].eval()
        inner = model.model
        with torch.no_grad():
            spatial, temporal = inner.get_tower_features(video)
            if tower == "siglip":  # one token per frame: the mean of that frame's patch tokens
                reference = inner.vision_tower(pixel_values=video[0]).last_hidden_state.mean(dim=1)
            elif tower == "timesformer":  # CLS, then patch-major / time-minor tokens, per clip of 8
                clips = inner.vision_tower(pixel_values=video.reshape(2, 8, 3, SIDE, SIDE)).last_hidden_state
                reference = clips[:, 1:].reshape(2, 16, 8, TOWER_WIDTH).mean(dim=1).reshape(16, TOWER_WIDTH)
            else:  # VideoMAE: one patch grid per tubelet of 2 frames, tubelet-major
                clips = inner.vision_tower(pixel_values=video.reshape(2, 8, 3, SIDE, SIDE)).last_hidden_state
                reference = clips.reshape(2, 4, 16, TOWER_WIDTH).mean(dim=2).reshape(8, TOWER_WIDTH)
        assert spatial.shape == (1, 4, TOWER_WIDTH), tower
        assert temporal.shape == (1, model.config.num_temporal_tokens, TOWER_WIDTH), tower
        torch.testing.assert_close(temporal[0], reference, msg=tower)
        assert model.config.num_video_tokens == 4 + (8 if tower == "videomae" else 16)


def test_processor_normalises_with_the_towers_own_statistics(composed):
    siglip = load_mimic_chat(composed["qwen2", "siglip"])[1].video_processor
    timesformer = load_mimic_chat(composed["llama", "timesformer"])[1].video_processor
    assert list(siglip.image_mean) == SIGLIP_STATS and list(siglip.image_std) == SIGLIP_STATS
    assert list(timesformer.image_mean) == [0.485, 0.456, 0.406]  # no preprocessor_config.json: ImageNet


def test_attn_implementation_goes_to_the_lm_and_to_towers_that_have_it(composed):
    for (_, tower), folder in composed.items():
        model = load_mimic_chat(folder, attn_implementation="sdpa")[0]
        assert model.model.language_model.config._attn_implementation == "sdpa"
        expected = "eager" if tower == "timesformer" else "sdpa"  # TimeSformer has no SDPA kernel
        assert model.model.vision_tower.config._attn_implementation == expected, tower
    eager = load_mimic_chat(composed["qwen2", "siglip"], attn_implementation="eager")[0]
    assert eager.model.vision_tower.config._attn_implementation == "eager"


@pytest.fixture(scope="module")
def trained(parts, composed):
    """Each composed model trained 5 LoRA steps and exported: {(lm, tower): (export folder, batch, logits, generated)}."""
    root, _ = parts
    results = {}
    rows = smoke_rows(8)
    for (lm, tower), folder in composed.items():
        run = root / f"run-{lm}-{tower}"
        recipe = tiny_recipe(run, "--model_name_or_path", str(folder), "--max_steps", "5")
        recipe.script.sft_data = None
        from mimic_train import sft

        original = sft.load_sft_dataset
        sft.load_sft_dataset = lambda _: Dataset.from_list(rows)
        try:
            final = run_sft(recipe, resume=False, frame_loader=RandomFrames(temporal=TEMPORAL, side=SIDE))
        finally:
            sft.load_sft_dataset = original
        assert (final / "adapter_model.safetensors").exists()
        exported = export_model(run, root / f"export-{lm}-{tower}")
        model, processor = load_mimic_chat(exported)
        batch = SFTCollator(processor, RandomFrames(temporal=TEMPORAL, side=SIDE), max_length=256)(rows[:2])
        batch.pop("labels")
        with torch.no_grad():
            logits = model.eval()(**batch).logits
            base_logits = load_mimic_chat(run / "base")[0].eval()(**batch).logits
        assert not torch.allclose(logits, base_logits, atol=1e-4), (lm, tower)  # the LoRA steps changed the model
        prompt = {key: value[:1] for key, value in batch.items()}
        generated = model.generate(**prompt, max_new_tokens=4, do_sample=False)
        assert generated.shape == (1, prompt["input_ids"].shape[1] + 4)
        uncached = model.generate(**prompt, max_new_tokens=4, do_sample=False, use_cache=False)
        assert torch.equal(generated, uncached)
        results[lm, tower] = (exported, dict(batch), logits)
    return results


# Runs in a child interpreter that cannot import the project: only the exported folders' own files can serve.
LOADER = BLOCK_PROJECT_IMPORTS + r"""
import sys
import torch
from transformers import AutoModel
requests, out_path = torch.load(sys.argv[1]), sys.argv[2]
result = {}
for key, (folder, batch) in requests.items():
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        result[key] = (type(model).__name__, model(**batch).logits)
torch.save(result, out_path)
"""


def test_lora_sft_export_reloads_through_automodel_in_a_fresh_process(parts, trained, tmp_path):
    requests = {f"{lm}-{tower}": (str(folder), batch) for (lm, tower), (folder, batch, _) in trained.items()}
    torch.save(requests, tmp_path / "requests.pt")
    completed = subprocess.run([sys.executable, "-I", "-c", LOADER, str(tmp_path / "requests.pt"),
                                str(tmp_path / "out.pt")], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = torch.load(tmp_path / "out.pt")
    for (lm, tower), (_, _, expected) in trained.items():
        name, logits = result[f"{lm}-{tower}"]
        assert name == "MimicChatForConditionalGeneration"
        assert torch.equal(logits, expected), (lm, tower)


def test_bf16_weights_stay_bf16_through_init_training_and_export(parts, tmp_path):
    root, _ = parts
    folder = init_from_parts(str(root / "llama"), str(root / "siglip"), tmp_path / "bf16", dtype="bfloat16",
                             temporal_num_frames=8, spatial_pool_grid=2)
    assert json.loads((folder / "config.json").read_text())["dtype"] == "bfloat16"
    with safe_open(folder / "model.safetensors", "pt") as weights:
        assert {weights.get_slice(key).get_dtype() for key in weights.keys()} == {"BF16"}
    rows = smoke_rows(4)
    from mimic_train import sft

    original = sft.load_sft_dataset
    sft.load_sft_dataset = lambda _: Dataset.from_list(rows)
    try:
        run_sft(tiny_recipe(tmp_path / "run", "--model_name_or_path", str(folder), "--max_steps", "1"), resume=False,
                frame_loader=RandomFrames(temporal=8, side=SIDE))
    finally:
        sft.load_sft_dataset = original
    assert load_mimic_chat(tmp_path / "run" / "base")[0].dtype == torch.bfloat16
    exported, _ = load_mimic_chat(export_model(tmp_path / "run", tmp_path / "exported"))
    assert {parameter.dtype for parameter in exported.parameters()} == {torch.bfloat16}
    # A preset start (float32 by default) is cast when asked, and its base keeps the dtype.
    from mimic_train.sft import initial_model

    recipe = tiny_recipe(tmp_path / "preset", "--dtype", "bfloat16")
    model, _ = initial_model(recipe.model, tmp_path / "preset", [TEXT] * 4, seed=0)
    assert model.dtype == torch.bfloat16
    assert json.loads((tmp_path / "preset" / "base" / "config.json").read_text())["dtype"] == "bfloat16"


def test_an_init_that_cannot_load_fails_in_one_line(parts, tmp_path, capsys):
    root, _ = parts
    with pytest.raises(InitError, match=r"holds a 'llama' checkpoint, not a MIMIC-Chat folder: .*mimic train init"):
        check_init(str(root / "llama"))
    with pytest.raises(InitError, match="not a folder with a config.json.*random weights"):
        check_init(str(tmp_path / "missing"))
    assert mimic_cli.main(["train", "sft", "--model_name_or_path", str(root / "llama"),
                           "--output_dir", str(tmp_path)]) == 1
    message = capsys.readouterr().err
    assert message.startswith("mimic train: error: model_name_or_path") and message.count("\n") == 1
    assert not (tmp_path / "base").exists()  # nothing was built


def test_pretrained_tokenizer_gains_only_the_tokens_it_lacks(parts):
    root, _ = parts
    from mimic_train.tokenizer import SPECIAL_TOKENS, add_special_tokens

    tokenizer = AutoTokenizer.from_pretrained(root / "llama")
    before = len(tokenizer)
    tokenizer.add_tokens(["<|im_start|>", "<|im_end|>"], special_tokens=True)  # as Qwen2's tokenizer ships them
    kept = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    added = add_special_tokens(tokenizer)
    assert tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"]) == kept
    assert added == list(range(before + 2, len(tokenizer))) and len(added) == 4  # [VID] [SEP] <|video_pad|> <|pad|>
    assert all(token in tokenizer.get_vocab() for token in SPECIAL_TOKENS) and tokenizer.pad_token == "<|pad|>"
    assert add_special_tokens(tokenizer) == []  # idempotent


def test_from_pretrained_parts_is_reproducible_for_a_seed(parts, composed):
    root, _ = parts
    tokenizer = AutoTokenizer.from_pretrained(composed["llama", "timesformer"])
    torch.manual_seed(0)
    again = MimicChatForConditionalGeneration.from_pretrained_parts(
        str(root / "llama"), str(root / "timesformer"), tokenizer=tokenizer,
        new_token_ids=tokenizer.convert_tokens_to_ids(NEW_TOKENS), temporal_num_frames=TEMPORAL,
        spatial_pool_grid=2)
    saved = load_mimic_chat(composed["llama", "timesformer"])[0].state_dict()
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
