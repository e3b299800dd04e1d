"""Export round trip: merged weights == base + stacked adapters; GGUF read back by llama.cpp; push dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amigo_train import cli

from train_records import tiny_recipe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
STAGES = """  - name: one
    data: [{path: data/commits.jsonl, adapter: commitpackft}]
  - name: two
    data: [{path: data/commits.jsonl, adapter: commit_in_context}]
"""


def test_export_round_trip(tmp_path: Path, tiny_model: Path, commit_file: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from amigo_train.base_model import embedded_gguf

    recipe = tiny_recipe(tmp_path, tiny_model, STAGES, defaults=", learning_rate: 0.05")
    assert cli.main(["run", str(recipe)]) == 0
    capsys.readouterr()
    run, out = tmp_path / "run", tmp_path / "export"
    argv = ["export", str(run), "--out", str(out), "--template-gguf", str(embedded_gguf())]
    # a local base has no known license: refused before any work, with what to do
    assert cli.main(argv) == 1 and "pass --license" in capsys.readouterr().err and not out.exists()
    argv += ["--license", "mit"]
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        argv.append("--no-verify")
    assert cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)

    ids = torch.tensor([[1, 42, 7, 300, 9, 11, 2000, 5]])
    merged = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)  # weights at the top
    stacked = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    stacked = PeftModel.from_pretrained(stacked, str(run / "stages" / "one" / "adapter"), adapter_name="one")
    stacked.load_adapter(str(run / "stages" / "two" / "adapter"), adapter_name="two")
    stacked.base_model.set_adapter(["one", "two"])
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    with torch.no_grad():
        got, want, plain = merged(ids).logits, stacked(ids).logits, base(ids).logits
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
    assert not torch.allclose(got, plain, atol=1e-3)  # the adapters did change the model

    assert (out / "model.gguf").stat().st_size > 1_000_000
    assert (out / "model-Q8_0.gguf").is_file() and (out / "model-Q4_K_M.gguf").is_file()
    if "verify" in report:
        assert report["verify"]["match"], report["verify"]
    modelfile = (out / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model-Q4_K_M.gguf") and "<|im_end|>" in modelfile
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n") and "## Limitations" in card
    assert "base_model:" not in card  # a local folder is no Hub id

    assert cli.main(["push", str(out), "--repo-id", "acme/amigo-tiny", "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "would upload model.gguf" in listing and "would upload README.md" in listing
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token saved by `hf auth login` either
    assert cli.main(["push", str(out), "--repo-id", "acme/amigo-tiny"]) == 1
    assert "hf auth login" in capsys.readouterr().err
