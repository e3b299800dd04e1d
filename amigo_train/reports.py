"""What a stage reports about itself: token lengths and padding efficiency, metrics.jsonl and its loss curve."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from amigo import progress
from amigo_train.data import read_jsonl


def padding_report(lengths: list[int], batch_size: int, max_length: int, packing: bool) -> dict[str, float]:
    """Share of real tokens among the tokens a step computes on, unpacked and packed."""
    lengths = [min(n, max_length) for n in lengths]
    real = sum(lengths)
    padded = 0
    for i in range(0, len(lengths), batch_size):
        batch = lengths[i : i + batch_size]
        padded += max(batch) * len(batch)
    blocks = math.ceil(real / max_length) if real else 0
    return {
        "examples": len(lengths), "real_tokens": real,
        "mean_length": real / len(lengths) if lengths else 0.0, "max_length_seen": max(lengths, default=0),
        "padding_efficiency_unpacked": real / padded if padded else 1.0,
        "padding_efficiency_packed": real / (blocks * max_length) if blocks else 1.0,
        "packing": packing,
    }


def example_lengths(examples: list[dict[str, Any]], tokenizer: Any) -> list[int]:
    """Token count of each example as the chat template lays it out (prompt + answer; for a
    preference pair, the longer of chosen and rejected)."""
    out = []
    for ex in progress.track(examples, "tokenizing", unit="examples"):
        answers = [a for a in (ex.get("completion"), ex.get("chosen"), ex.get("rejected")) if a] or [[]]
        longest = 0
        for answer in answers:
            ids = tokenizer.apply_chat_template(list(ex["prompt"]) + list(answer), tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            longest = max(longest, len(ids))
        out.append(longest)
    return out


def plot_loss(metrics_path: Path, png: Path, title: str) -> None:
    """loss.png from metrics.jsonl (train and, when logged, eval loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(metrics_path) if metrics_path.is_file() else []
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def _metrics_callback(path: Path):  # type: ignore[no-untyped-def]
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):
        """Appends every log line to metrics.jsonl (so a resumed stage keeps its history)."""

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if logs and state.is_world_process_zero:
                row = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")

    return MetricsCallback()
