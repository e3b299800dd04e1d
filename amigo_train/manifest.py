"""A run directory's bookkeeping: stage folders, checkpoints, and manifest.json (see :mod:`amigo_train.training`)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from amigo_train.ranks import is_main_process
from amigo_train.recipe import Recipe, StageSpec


def stage_dir(run_dir: Path, stage: StageSpec) -> Path:
    return run_dir / "stages" / stage.name


def is_complete(run_dir: Path, stage: StageSpec) -> bool:
    return (stage_dir(run_dir, stage) / "stage.json").is_file()


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint whose trainer state was fully written (a kill mid-save is skipped)."""
    if not ckpt_dir.is_dir():
        return None
    done = [p for p in ckpt_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def git_commit(path: Path) -> str | None:
    """The commit of the code that trains (the repository holding this package)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("torch", "transformers", "peft", "trl", "datasets", "accelerate"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


class Manifest:
    """manifest.json, rewritten atomically after every change."""

    def __init__(self, path: Path, recipe: Recipe, recipe_path: str) -> None:
        self.path = path
        if path.is_file():
            self.data: dict[str, Any] = json.loads(path.read_text())
        else:
            self.data = {"created": time.time(), "stages": {}}
        self.data.update({
            "recipe_path": recipe_path, "recipe": recipe.model_dump(mode="json"),
            "git_commit": git_commit(Path(__file__).resolve().parent), "versions": versions(),
        })
        self.save()

    def stage(self, name: str, **fields: Any) -> None:
        self.data["stages"].setdefault(name, {}).update(fields)
        self.save()

    def save(self) -> None:
        if not is_main_process():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
        tmp.replace(self.path)
