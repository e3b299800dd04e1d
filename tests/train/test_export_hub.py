"""A Hub-ready export of the embedded model: the folder loads with from_pretrained, the card
names the Hub base and its license, and the quantized GGUF files answer in llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from amigo_train import cli
from amigo_train.base_model import EMBEDDED, EMBEDDED_HUB_ID, base_license, hub_id

from train_records import tiny_recipe

ONE_STAGE = """  - name: one
    data: [{path: data/commits.jsonl, adapter: commitpackft}]
"""


def test_card_metadata_follows_the_base() -> None:
    assert hub_id(EMBEDDED) == EMBEDDED_HUB_ID and base_license(EMBEDDED) == "apache-2.0"
    assert base_license("google/gemma-3-12b-it") == "gemma"  # not Apache-2.0
    assert base_license("Qwen/Qwen2.5-Coder-14B-Instruct") == "apache-2.0"
    assert base_license("Qwen/Qwen2.5-Coder-3B-Instruct") is None  # qwen-research: must be given
    assert hub_id("/models/local-copy") is None and base_license("/models/local-copy") is None


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_embedded_export_loads_and_its_quantized_gguf_answers(tmp_path: Path, commit_file: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    llama_cpp = pytest.importorskip("llama_cpp")
    import torch
    import yaml
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from amigo_train.gguf_export import greedy_llama_cpp

    recipe = tiny_recipe(tmp_path, EMBEDDED, ONE_STAGE)  # type: ignore[arg-type]
    assert cli.main(["run", str(recipe), "--quiet"]) == 0
    out = tmp_path / "export"
    assert cli.main(["export", str(tmp_path / "run"), "--out", str(out), "--no-verify", "--quiet"]) == 0
    capsys.readouterr()

    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()  # the top of the folder
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    meta = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and meta["license"] == "apache-2.0"
    assert "gguf" in meta["tags"]
    assert (out / "Modelfile").read_text().startswith("FROM ./model-Q4_K_M.gguf\nTEMPLATE")

    ids = [int(i) for i in tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True,
        tokenize=True, return_dict=False)]
    with torch.no_grad():
        want = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)[0][len(ids):].tolist()
    for kind in ("Q8_0", "Q4_K_M"):
        path = out / f"model-{kind}.gguf"
        assert 0 < path.stat().st_size < (out / "model.gguf").stat().st_size
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False)
        got = greedy_llama_cpp(llm, ids, 8)
        assert tokenizer.decode(got).strip(), kind  # it answers
        if kind == "Q8_0":  # near-lossless: the same first greedy token as transformers
            assert got[0] == want[0], (tokenizer.decode(got), tokenizer.decode(want))


def test_a_base_without_template_goes_through_llama_cpps_converter(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The flagship path (Gemma 3, Qwen2.5 and any base without a template GGUF): llama.cpp's own
    converter, then quantization; the files must load and answer in llama.cpp. A tiny random
    Llama stands in for a 12B model (a random Qwen2 cannot: the converter only accepts
    tokenizers it knows by hash, and the dequantized embedded one is not byte-identical)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    gguf = pytest.importorskip("gguf")
    from transformers import AutoTokenizer

    from amigo_train.base_model import tiny_llama
    from amigo_train.export import write_gguf
    from amigo_train.gguf_export import LLAMA_CPP_PYTHON_VERSION, greedy_llama_cpp, llama_cpp_source

    # the tests' XDG cache is a fresh folder: also look where build-llama-server.sh put it for this user
    unpacked = Path.home() / ".cache" / "amigo" / "src" / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor"
    source = next((s for s in (llama_cpp_source(), unpacked / "llama.cpp") if (s / "convert_hf_to_gguf.py").is_file()),
                  None)
    if source is None:
        pytest.skip("needs llama.cpp's source: bash scripts/build-llama-server.sh (or AMIGO_LLAMA_CPP_SRC)")
    monkeypatch.setenv("AMIGO_LLAMA_CPP_SRC", str(source))
    model_dir = tiny_llama(tmp_path / "base")
    out = tmp_path / "out"
    out.mkdir()
    paths = write_gguf(model_dir, out, "meta-llama/Llama-3.1-8B-Instruct", None, ("Q8_0",), log=lambda _m: None)
    assert [p.name for p in paths] == ["model.gguf", "model-Q8_0.gguf"]
    assert gguf.GGUFReader(str(paths[0])).fields["general.architecture"].contents() == "llama"
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    llm = llama_cpp.Llama(model_path=str(paths[1]), n_ctx=256, verbose=False)
    assert len(greedy_llama_cpp(llm, tokenizer("def add(a, b):")["input_ids"], 4)) > 0
