"""Served = trained: turn what training produced into what a server loads.

The design (``docs/serving-trained-models.md`` says why): a staged run of
``amigo train run`` ends in a *release*, one merged Hugging Face directory (the
base with every stage adapter merged in recipe order, exactly the weights the
last stage trained on plus that stage's adapter). A nightly run then trains one
LoRA adapter *on top of that release* and continues the same adapter night after
night, so a served base never changes between releases and vLLM can swap the
nightly adapter by name. llama.cpp has no runtime adapter swap that we trust to
match training, so it gets the release, or the release with the nightly adapter
merged in, as one GGUF.

Layout::

    RUN/release/            config.json, model.safetensors, tokenizer, release.json
    RUN/release/model.gguf  when the architecture is llama and a template GGUF is known
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from amigo.errors import ConfigError

Log = Callable[[str], None]
RELEASE_FILE = "release.json"


def release_dir(run_dir: Path) -> Path:
    """Where ``amigo train run`` leaves the servable model of a run."""
    return run_dir / "release"


def read_release(path: Path) -> dict[str, Any]:
    """``release.json`` of a release directory, with a clear error when it is not one."""
    info = path / RELEASE_FILE
    if not info.is_file():
        raise ConfigError(f"{path} is not an Amigo release (no {RELEASE_FILE}): run `amigo train release RUN_DIR` "
                          "on a finished run first")
    return json.loads(info.read_text(encoding="utf-8"))


def default_template(base: str) -> Path | None:
    """The GGUF whose tokenizer metadata a GGUF of ``base`` copies: the embedded model's, else unknown."""
    from amigo_train.base_model import EMBEDDED, embedded_gguf

    return embedded_gguf() if base == EMBEDDED else None


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder into place; an older copy is removed only once the new one is whole."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def merged_gguf(model_dir: Path, template: Path | None, out: Path, half: bool = True) -> Path | None:
    """``out`` (a GGUF of the merged ``model_dir``) when our writer handles its architecture, else None."""
    from transformers import AutoConfig

    from amigo_train.gguf_export import write_llama_gguf

    if template is None or AutoConfig.from_pretrained(str(model_dir)).model_type != "llama":
        return None
    tmp = out.with_suffix(".gguf.tmp")
    write_llama_gguf(model_dir, template, tmp, half=half)
    tmp.replace(out)
    return out


def build_release(base: str, adapters: list[Path], out: Path, info: dict[str, Any], *,
                  template: Path | None = None, half: bool = True) -> Path:
    """``out``: ``base`` with ``adapters`` merged in order, its GGUF where possible, ``release.json``."""
    from amigo_train.export import merge

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merge(base, adapters, tmp)
    template = template or default_template(base)
    gguf = merged_gguf(tmp, template, tmp / "model.gguf", half=half)
    info = {**info, "base_model": base, "adapters": [str(a) for a in adapters], "created": time.time(),
            "gguf": gguf.name if gguf else None, "gguf_template": str(template) if template else None,
            "gguf_half": half}
    (tmp / RELEASE_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    _replace_dir(tmp, out)
    return out


def write_release(run_dir: Path, *, template: Path | None = None, half: bool = True,
                  log: Log = print) -> Path:
    """Merge a finished run into ``RUN/release`` (+ ``model.gguf`` where possible); idempotent."""
    from amigo_train.export import run_adapters

    out = release_dir(run_dir)
    if (out / RELEASE_FILE).is_file():
        return out
    base, adapters, manifest = run_adapters(run_dir)
    info = {"recipe": manifest["recipe"]["name"], "run_dir": str(run_dir.resolve()),
            "data": {name: stage.get("data", {}).get("train_sha256") for name, stage in manifest["stages"].items()}}
    build_release(base, adapters, out, info, template=template, half=half)
    gguf = read_release(out)["gguf"]
    log(f"release: {len(adapters)} stage adapters merged into {out}"
        + (f", GGUF {out / gguf}" if gguf else " (no GGUF: not a llama model or no template GGUF)"))
    return out


def adapter_on_release(release: Path, adapter: Path, out: Path, log: Log = print) -> Path:
    """For llama.cpp: the release with a nightly ``adapter`` merged in, as ``out/merged`` + ``out/model.gguf``.

    The adapter was trained on exactly this release (its ``adapter_config.json``
    names it), so merging it gives the model the nightly run evaluated."""
    from amigo_train.export import merge

    info = read_release(release)
    if (out / "model.gguf").is_file() and (out / "merged" / "config.json").is_file():
        return out / "model.gguf"
    tmp = out / "merged.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    merge(str(release), [adapter], tmp)
    template = Path(info["gguf_template"]) if info.get("gguf_template") else None
    gguf = merged_gguf(tmp, template, out / "model.gguf", half=bool(info.get("gguf_half", True)))
    if gguf is None:
        raise ConfigError(f"{release} has no GGUF template (not a llama model): serve it with vLLM and the "
                          "adapter by name, or convert out/merged with llama.cpp's convert_hf_to_gguf.py")
    _replace_dir(tmp, out / "merged")
    log(f"nightly adapter {adapter} merged onto {release}: {gguf}")
    return gguf
