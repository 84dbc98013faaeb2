"""MIMIC-Chat speed and size: forward and forward+backward of the `tiny` preset on CPU (batch 8), preset sizes.

Writes runs/bench/model_tiny.json and prints a table. Tiny random model and a locally trained tokenizer.

    .venv/bin/python perf/model_tiny.py --out runs/bench
"""

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from mimic_data.io import atomic_write_json
from mimic_train.tokenizer import build_tokenizer
from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
from modeling_mimic_chat.export import build_processor
from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration, count_parameters

QUESTION = (
    "Select the most appropriate title based on the video.\nA. my cat vs the red ball\nB. sunset drive, no talking\n"
    "C. trying the viral noodle recipe\nD. grandma reacts to skateboarding\nAnswer with the letter."
)


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def measure_mode(fusion_mode: str, tokenizer, batch_size: int, repeats: int) -> dict:
    torch.manual_seed(0)
    config = MimicChatConfig.from_preset("tiny", tokenizer=tokenizer, fusion_mode=fusion_mode)
    model = MimicChatForConditionalGeneration(config)
    processor = build_processor(config, tokenizer)
    prompt = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": QUESTION}]}],
        add_generation_prompt=True,
        tokenize=False,
    )
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, (64, 48, 64, 3), dtype=np.uint8) for _ in range(batch_size)]
    batch = processor(text=[prompt + "B<|im_end|>"] * batch_size, videos=clips)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)

    def forward():
        with torch.no_grad():
            model.eval()(**batch)

    def forward_backward():
        model.train().zero_grad(set_to_none=True)
        model(**batch, labels=labels).loss.backward()

    fwd, fwd_bwd = timed(forward, repeats), timed(forward_backward, repeats)
    return {
        "fusion_mode": fusion_mode,
        "batch_size": batch_size,
        "sequence_length": int(batch["input_ids"].shape[1]),
        "forward_s_median": statistics.median(fwd),
        "forward_backward_s_median": statistics.median(fwd_bwd),
        "parameters": count_parameters(model),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    corpus = [QUESTION, "so cute!! watched it ten times lol", "a red ball rolls left across the kitchen"] * 50
    tokenizer = build_tokenizer(corpus, vocab_size=4000)
    rows = [measure_mode(mode, tokenizer, args.batch_size, args.repeats) for mode in ("token_gate", "xattn_gate")]
    with torch.device("meta"):
        paper = MimicChatForConditionalGeneration(MimicChatConfig.from_preset("paper"))
    result = {
        "machine": {
            "cpu_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "tiny": rows,
        "paper_parameters": count_parameters(paper),
    }
    path = atomic_write_json(args.out / "model_tiny.json", result)
    print(f"{'mode':<11} {'batch':>5} {'seq':>4} {'fwd s':>7} {'fwd+bwd s':>9} {'trainable':>10} {'total':>10}")
    for row in rows:
        p = row["parameters"]
        print(
            f"{row['fusion_mode']:<11} {row['batch_size']:>5} {row['sequence_length']:>4} {row['forward_s_median']:>7.3f} "
            f"{row['forward_backward_s_median']:>9.3f} {p['trainable']:>10,} {p['total']:>10,}"
        )
    p = result["paper_parameters"]
    print(f"paper preset: trainable {p['trainable']:,} / frozen {p['frozen']:,} / total {p['total']:,}  -> {path}")


if __name__ == "__main__":
    main()
