"""Real-schema records and helpers shared by the amigo_train tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COMMITS: list[dict[str, Any]] = [
    {"commit": "1" * 40, "old_file": "pkg/mathx.py", "new_file": "pkg/mathx.py",
     "old_contents": "def add(a, b):\n    return a - b\n\n\ndef neg(a):\n    return -a\n",
     "new_contents": "def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return -a\n",
     "subject": "Fix the sign error in the add function", "message": "Fix the sign error in the add function\n\nIt subtracted.",
     "lang": "Python", "license": "mit", "repos": "example/mathx"},
    {"commit": "2" * 40, "old_file": "app.js", "new_file": "app.js",
     "old_contents": "function greet(name) {\n  console.log('hi ' + name);\n}\n",
     "new_contents": "function greet(name) {\n  return `hi ${name}`;\n}\n",
     "subject": "Return the greeting instead of logging it", "message": "",
     "lang": "JavaScript", "license": "apache-2.0", "repos": "example/app"},
]
PAIRS = [
    {"system": "", "question": "What is 6 times 7?", "chosen": "6 * 7 = 42.\nThe answer is: 42", "rejected": "The answer is: 36"},
    {"system": "", "question": "What is 10 minus 4?", "chosen": "10 - 4 = 6.\nThe answer is: 6", "rejected": "The answer is: 14"},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path



def tiny_recipe(tmp_path: Path, model: Path, stages: str, defaults: str = "") -> Path:
    """Write a recipe YAML for the tiny model; data paths are relative to tmp_path."""
    text = f"""name: tiny
base_model: {model}
output_dir: {tmp_path / 'run'}
precision: fp32
gradient_checkpointing: false
lora: {{r: 4, alpha: 8, dropout: 0.0}}
defaults: {{max_steps: 2, max_length: 512, save_steps: 1, logging_steps: 1, per_device_batch_size: 2, learning_rate: 0.01{defaults}}}
stages:
{stages}"""
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path
