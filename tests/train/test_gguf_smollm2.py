"""GGUF export of the REAL embedded SmolLM2-135M, read back by llama.cpp and compared with transformers.

The tiny random Llama in test_export.py proves the plumbing; this test proves the
conversion is right for the model Amigo actually ships: 30 layers, grouped-query
attention (9 heads, 3 KV heads), tied embeddings, rope base 100000, the ChatML
tokenizer. A wrong rotary permutation, a dropped tied output, a wrong rope base or
a shifted vocabulary all make the top tokens disagree, so the thresholds below fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_real_smollm2_gguf_agrees_with_transformers(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    gguf = pytest.importorskip("gguf")
    from amigo_train.base_model import dequantized_smollm2, embedded_gguf
    from amigo_train.export import verify_gguf
    from amigo_train.gguf_export import write_llama_gguf

    model_dir = dequantized_smollm2()
    out = write_llama_gguf(model_dir, embedded_gguf(), tmp_path / "smollm2.gguf")

    written, template = gguf.GGUFReader(str(out)), gguf.GGUFReader(str(embedded_gguf()))
    names = {t.name for t in written.tensors}
    assert "output.weight" not in names and "token_embd.weight" in names  # tied: llama.cpp reuses the embedding
    assert len(names) == len({t.name for t in template.tensors})
    assert written.fields["llama.rope.freq_base"].contents() == pytest.approx(100000.0)
    assert written.fields["tokenizer.ggml.tokens"].contents() == template.fields["tokenizer.ggml.tokens"].contents()

    check = verify_gguf(model_dir, out, max_tokens=16)
    assert len(check["prompts"]) == 3
    # f16 weights vs float32: the top token agrees almost everywhere (a conversion bug gives ~0)
    assert check["top1_agreement"] >= 0.95, check
    assert check["top5_overlap"] >= 0.9, check
    for row in check["prompts"]:
        assert row["tokens"] > 0 and row["identical_prefix"] >= min(8, row["tokens"]), row
