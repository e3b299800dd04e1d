"""Export round trip: store -> DPO/SFT datasets -> `datasets` -> TRL's DPO data collator."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from amigo.events import AcceptedEvent, ProposalEvent, RejectedEvent, RetriedEvent, UndoneEvent
from feedback import attach, follow_up
from feedback.cli import main as cli
from feedback.export import dedup, export, is_test
from feedback.schema import LATEST
from feedback.settings import FeedbackSettings, db_path
from feedback.store import Store
from feedback_helpers import CALC

OLD = time.time() - 40 * 86400


def build(repo, make, bus, settings) -> dict:
    """A store with two retry pairs (one a duplicate prompt), an accept kept, one undone, one old."""
    recorder = attach(bus, repo, settings)
    made = {}
    a = make(instruction="add type checks to mul", answer="a bad answer")
    b = make(instruction="add type checks to mul", parent=a)
    a2 = make(instruction="add type checks to mul", answer="an older bad answer", created_at=time.time() - 3600)
    b2 = make(instruction="add type checks to mul", parent=a2)
    c = make(instruction="check sub's types", answer="wrong", created_at=OLD)
    d = make(instruction="check sub's types", parent=c, created_at=OLD)
    kept = make(instruction="document add", new=CALC.replace("def add(a, b):\n", 'def add(a, b):\n    """Add."""\n'))
    undone = make(instruction="document sub")
    for p in (a, b, a2, b2, c, d, kept, undone):
        bus.publish(ProposalEvent(p))
    for old, new in ((a, b), (a2, b2), (c, d)):
        bus.publish(RetriedEvent(old, new))
        bus.publish(AcceptedEvent(new, None, None, ((new.request.path, new.changes[0].new_text),)))
    for p in (kept, undone):
        bus.publish(AcceptedEvent(p, None, None, ((p.request.path, p.changes[0].new_text),)))
    bus.publish(UndoneEvent(undone.id, ("calc.py",)))
    recorder.close()
    (repo / "calc.py").write_text(kept.changes[0].new_text)
    follow_up(repo, settings, now=time.time() + settings.retention_delay_s + 1)
    made.update(a=a, b=b, a2=a2, b2=b2, c=c, d=d, kept=kept, undone=undone)
    return made


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dpo_export_pairs_dedups_and_splits(repo, make, bus, tmp_path):
    settings = FeedbackSettings(retention_delay_s=10)
    made = build(repo, make, bus, settings)
    out = tmp_path / "dpo"
    with Store(db_path(settings)) as store:
        result = export(store, "dpo", out, since=time.time() - 7 * 86400, test_fraction=0.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["counts"]["total"] == 1 and manifest["counts"]["duplicates_dropped"] == 1
    assert manifest["counts"]["by_source"] == {"retry": 1}
    assert manifest["schema_version"] == LATEST and manifest["models"] == {"smollm2-135m": 1}
    assert manifest["parquet"] is True
    (row,) = read_jsonl(out / "jsonl" / "train.jsonl")
    assert not (out / "jsonl" / "test.jsonl").exists() and manifest["counts"]["test"] == 0
    # the newer of the two pairs with the same prompt wins; prompt = the rejected request's messages
    assert row["prompt"] == list(made["a"].messages)
    assert row["chosen"] == [{"role": "assistant", "content": made["b"].answer}]
    assert row["rejected"] == [{"role": "assistant", "content": "a bad answer"}]

    with Store(db_path(settings)) as store:
        everything = export(store, "dpo", tmp_path / "all", test_fraction=0.0)
    assert everything.manifest["counts"]["total"] == 2  # the 40-day-old pair too


def test_sft_export_keeps_retained_accepts_only(repo, make, bus, tmp_path):
    settings = FeedbackSettings(retention_delay_s=10)
    made = build(repo, make, bus, settings)
    with Store(db_path(settings)) as store:
        result = export(store, "sft", tmp_path / "sft", test_fraction=0.0)
    rows = read_jsonl(tmp_path / "sft" / "jsonl" / "train.jsonl")
    # 'kept' is on disk (retention 1.0); the retried winners' change is not on disk any more; undone is out
    assert [r["prompt"] for r in rows] == [list(made["kept"].messages)]
    assert rows[0]["completion"] == [{"role": "assistant", "content": made["kept"].answer}]
    assert result.manifest["min_retention"] == 0.5
    with Store(db_path(settings)) as store:
        loose = export(store, "sft", tmp_path / "sft0", test_fraction=0.0, min_retention=0.0)
    # the retried winners (retention 0) join: b/b2 share a prompt, d is old; undone never
    assert loose.manifest["counts"]["total"] == 3 and loose.manifest["counts"]["duplicates_dropped"] == 1


def test_split_is_stable_and_by_request_id(repo, make, bus, tmp_path):
    ids = [f"req{i}" for i in range(2000)]
    share = sum(is_test(i, 0.1) for i in ids) / len(ids)
    assert 0.07 < share < 0.13
    assert [is_test(i, 0.1) for i in ids] == [is_test(i, 0.1) for i in ids]
    settings = FeedbackSettings(retention_delay_s=10)
    build(repo, make, bus, settings)
    with Store(db_path(settings)) as store:
        export(store, "dpo", tmp_path / "one", test_fraction=0.5)
        export(store, "dpo", tmp_path / "two", test_fraction=0.5)
    written = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*l"))
    assert written and written == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.*l"))
    for rel in written:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()


def test_dedup_prefers_corrections_then_newest():
    from feedback.export import Example

    prompt = [{"role": "user", "content": "x"}]
    old = Example("1", prompt, 1.0, "m", "retry", "a", "b", priority=1)
    new = Example("2", prompt, 2.0, "m", "retry", "a", "b", priority=1)
    corr = Example("3", prompt, 0.5, "m", "correction", "c", "b", priority=0)
    kept, dropped = dedup([old, new])
    assert [e.request_id for e in kept] == ["2"] and dropped == 1
    assert [e.request_id for e in dedup([old, new, corr])[0]] == ["3"]


def corrected(repo, make, bus):
    """A rejected proposal the person then fixed by hand, captured by follow-up: (settings, rejected, fixed)."""
    settings = FeedbackSettings(correction_window_s=600)
    recorder = attach(bus, repo, settings)
    rejected = make(answer="a wrong answer")
    bus.publish(RejectedEvent(rejected))
    recorder.close()
    fixed = CALC.replace("    return a * b\n", "    return int(a) * int(b)\n")
    (repo / "calc.py").write_text(fixed)
    assert follow_up(repo, settings).corrections == 1
    return settings, rejected, fixed


def test_correction_becomes_the_chosen_answer_rendered_as_blocks(repo, make, bus, tmp_path):
    edits = pytest.importorskip("amigo.edits", reason="amigo.edits (render) is not in this tree yet")
    settings, _, fixed = corrected(repo, make, bus)
    with Store(db_path(settings)) as store:
        result = export(store, "dpo", tmp_path / "c", test_fraction=0.0)
    (row,) = read_jsonl(tmp_path / "c" / "jsonl" / "train.jsonl")
    assert result.manifest["counts"]["by_source"] == {"correction": 1}
    assert row["chosen"][0]["content"] == edits.render(CALC, fixed, "calc.py")
    assert row["rejected"][0]["content"] == "a wrong answer"
    applied = edits.apply_answer(row["chosen"][0]["content"], {"calc.py": CALC}, "calc.py", "blocks")
    assert applied.new_texts["calc.py"] == fixed


def test_partial_accept_exports_what_was_written(repo, make, bus, tmp_path):
    edits = pytest.importorskip("amigo.edits", reason="amigo.edits (render) is not in this tree yet")
    settings = FeedbackSettings(retention_delay_s=0)
    recorder = attach(bus, repo, settings)
    proposal = make()
    written = CALC.replace("def add", "def add_numbers")
    (repo / "calc.py").write_text(written)
    bus.publish(AcceptedEvent(proposal, (0,), None, (("calc.py", written),)))
    recorder.close()
    follow_up(repo, settings)
    with Store(db_path(settings)) as store:
        export(store, "sft", tmp_path / "p", test_fraction=0.0)
    (row,) = read_jsonl(tmp_path / "p" / "jsonl" / "train.jsonl")
    assert row["completion"][0]["content"] == edits.render(CALC, written, "calc.py")


def _tokenizer(texts: list[str]):  # type: ignore[no-untyped-def]
    """A real (tiny, locally trained) fast tokenizer with a chat template: no hub download."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    fast.chat_template = ("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} [EOS]\n{% endfor %}"
                          "{% if add_generation_prompt %}<assistant> {% endif %}")
    return fast


def test_export_loads_with_datasets_and_feeds_trls_dpo_collator(repo, make, bus, tmp_path):
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("trl")
    from trl.data_utils import is_conversational, maybe_apply_chat_template
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    settings = FeedbackSettings(retention_delay_s=10)
    build(repo, make, bus, settings)
    out = tmp_path / "dpo"
    assert cli(["--db", str(db_path(settings)), "export", "--format", "dpo", "--out", str(out),
                "--test-fraction", "0"]) == 0
    from_parquet = datasets.load_dataset("parquet", data_dir=str(out / "parquet"))
    from_json = datasets.load_dataset("json", data_dir=str(out / "jsonl"))
    assert set(from_parquet) == {"train"} and from_parquet["train"].num_rows == 2
    assert from_parquet["train"].column_names == ["prompt", "chosen", "rejected", "automatic"]
    assert from_parquet["train"].to_list() == from_json["train"].to_list()
    example = from_parquet["train"][0]
    assert is_conversational(example)

    texts = [m["content"] for row in from_parquet["train"] for col in ("prompt", "chosen", "rejected")
             for m in row[col]]
    tokenizer = _tokenizer(texts + ["<system> <user> <assistant>"])
    features = []
    for row in from_parquet["train"]:
        rendered = maybe_apply_chat_template(row, tokenizer)
        features.append({key: tokenizer(rendered[src], add_special_tokens=False)["input_ids"]
                         for key, src in (("prompt_ids", "prompt"), ("chosen_ids", "chosen"),
                                          ("rejected_ids", "rejected"))})
    batch = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id)(features)
    assert batch["input_ids"].shape[0] == 4  # chosen half, then rejected half
    for i, f in enumerate(features):
        assert int(batch["completion_mask"][i].sum()) == len(f["chosen_ids"])
        assert int(batch["completion_mask"][i + 2].sum()) == len(f["rejected_ids"])
        assert int(batch["attention_mask"][i].sum()) == len(f["prompt_ids"]) + len(f["chosen_ids"])


def test_export_errors_are_clear(repo, make, bus, tmp_path, capsys):
    settings = FeedbackSettings()
    recorder = attach(bus, repo, settings)
    recorder.close()
    db = str(db_path(settings))
    assert cli(["--db", db, "export", "--format", "dpo", "--out", str(tmp_path / "x"), "--since", "last tuesday"]) == 2
    assert "cannot read the date" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert cli(["--db", db, "export", "--format", "sft", "--out", str(tmp_path / "file")]) == 1
    assert "give a folder" in capsys.readouterr().err
    assert cli(["--db", str(tmp_path / "none.db"), "stats"]) == 1
    assert "no feedback database" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["export", "--format", "kto", "--out", "x"])


def test_a_fresh_machine_has_empty_stats_and_an_empty_export(tmp_path, capsys):
    """Nothing recorded yet (no database file at the default place): a scheduled job must not fail."""
    assert not db_path(FeedbackSettings()).exists()
    assert cli(["stats"]) == 0
    assert "0 proposals are recorded yet" in capsys.readouterr().out
    for fmt in ("dpo", "sft"):
        out = tmp_path / fmt
        assert cli(["export", "--format", fmt, "--out", str(out)]) == 0
        assert f"wrote 0 {fmt} examples" in capsys.readouterr().out
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["counts"]["total"] == 0
    assert not db_path(FeedbackSettings()).exists()  # reading created no database


def test_export_card_loads_as_a_hub_dataset_and_push_is_private(repo, make, bus, tmp_path, capsys, monkeypatch):
    datasets = pytest.importorskip("datasets")
    yaml = pytest.importorskip("yaml")
    settings = FeedbackSettings(retention_delay_s=10)
    build(repo, make, bus, settings)
    out = tmp_path / "dpo"
    assert cli(["--db", str(db_path(settings)), "export", "--format", "dpo", "--out", str(out),
                "--test-fraction", "0.5", "--license", "mit"]) == 0
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "mit" and "dpo" in meta["tags"] and meta["size_categories"] == ["n<1K"]
    # the card's configs are what the Hub and `load_dataset(folder)` read: every split, its file
    loaded = datasets.load_dataset(str(out))
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s: loaded[s].num_rows for s in loaded} == {s: manifest["counts"][s] for s in ("train", "test")
                                                        if manifest["counts"][s]}
    capsys.readouterr()

    assert cli(["publish", str(out), "--repo-id", "acme/amigo-prefs", "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "would upload README.md" in listing and "(private)" in listing
    assert cli(["publish", str(tmp_path), "--repo-id", "acme/amigo-prefs"]) == 1
    assert "run `amigo feedback export" in capsys.readouterr().err
    monkeypatch.setenv("HF_TOKEN", "hf_test_not_real")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: refused at once
    assert cli(["publish", str(out), "--repo-id", "acme/amigo-prefs"]) == 1
    assert "check the network" in capsys.readouterr().err


def test_a_correction_is_also_an_sft_target_when_asked(repo, make, bus, tmp_path):
    """The nightly run's SFT stage learns the person's own fix (corrections=True), not by default."""
    from amigo import edits

    settings, rejected, fixed = corrected(repo, make, bus)
    with Store(db_path(settings)) as store:
        plain = export(store, "sft", tmp_path / "plain", test_fraction=0.0)
        with_fix = export(store, "sft", tmp_path / "fix", test_fraction=0.0, corrections=True)
    assert plain.manifest["counts"]["total"] == 0
    assert with_fix.manifest["counts"]["by_source"] == {"correction": 1}
    (row,) = read_jsonl(tmp_path / "fix" / "jsonl" / "train.jsonl")
    assert row["prompt"] == [dict(m) for m in rejected.messages]
    applied = edits.apply_answer(row["completion"][0]["content"], {"calc.py": CALC}, "calc.py", "blocks")
    assert applied.new_texts["calc.py"] == fixed


def repaired_request(make, bus, rid: str, at: float) -> None:
    """One request as the engine records it with two candidates and two repair rounds: round 1's
    ``rid.1`` (answered first) and ``rid`` fail, the repair ``rid-2`` fails, ``rid-3`` is shown and
    accepted. Every failure is linked to the answer shown; the repairs to the answer they repair."""
    from dataclasses import replace

    from amigo.events import AttemptFailedEvent

    first = replace(make(instruction=f"{rid}: check mul's types", answer="wrong 1"), id=f"{rid}.1", created_at=at)
    main = replace(make(instruction=f"{rid}: check mul's types", answer="wrong 0"), id=rid, created_at=at + 1)
    repair = replace(make(instruction=f"{rid}: check mul's types (it did not apply)", answer="wrong 2"),
                     id=f"{rid}-2", parent_id=rid, created_at=at + 2)
    shown = replace(make(instruction=f"{rid}: check mul's types (it did not parse)"), id=f"{rid}-3",
                    parent_id=f"{rid}-2", created_at=at + 3)
    for failed in (first, main, repair):
        bus.publish(AttemptFailedEvent(failed, "does not apply", shown.id))
    bus.publish(ProposalEvent(shown))
    bus.publish(AcceptedEvent(shown, None, None, (("calc.py", shown.changes[0].new_text),)))


def test_a_requests_repairs_and_candidates_land_on_one_side_of_the_split(repo, make, bus, tmp_path):
    """Each failed attempt makes a pair with the same accepted answer: were they split one by one,
    the training side would teach the answer a held-out pair is scored on."""
    rids = [f"req{i}" for i in range(40)]
    # the test is only as strong as requests whose own ids would have been split apart
    assert sum(len({is_test(i, 0.5) for i in (r, f"{r}.1", f"{r}-2")}) > 1 for r in rids) >= 10
    settings = FeedbackSettings()
    recorder = attach(bus, repo, settings)
    now = time.time()
    for k, rid in enumerate(rids):
        repaired_request(make, bus, rid, now - 1000 + 10 * k)
    recorder.close()
    with Store(db_path(settings)) as store:
        pairs = export(store, "dpo", tmp_path / "dpo", test_fraction=0.5)
        requests = export(store, "requests", tmp_path / "requests", test_fraction=0.5)
    # the two round-1 candidates share a prompt (one pair kept), the repair has its own: two pairs a request
    assert pairs.manifest["counts"]["total"] == 2 * len(rids)
    assert requests.manifest["counts"]["total"] == len(rids)
    for split in ("train", "test"):
        held = split == "test"
        for row in read_jsonl(tmp_path / "dpo" / "jsonl" / f"{split}.jsonl"):
            rid = row["prompt"][-1]["content"].split("req", 1)[1].split(":", 1)[0]
            assert is_test(f"req{rid}", 0.5) == held, (split, rid)
        for row in read_jsonl(tmp_path / "requests" / "jsonl" / f"{split}.jsonl"):
            # one row a request: its first answer, the file as it was, the instruction as asked
            assert row["request_id"] in rids and is_test(row["request_id"], 0.5) == held
            assert row["file_text"] == CALC and row["path"] == "calc.py" and row["edit_format"] == "blocks"
            assert row["instruction"] == f"{row['request_id']}: check mul's types"
            assert row["prompt"][-1]["content"].count(row["instruction"]) == 1
    manifest = json.loads((tmp_path / "requests" / "manifest.json").read_text())
    assert manifest["columns"][:2] == ["prompt", "request_id"] and "first proposal" in manifest["split"]["rule"]


def test_a_ready_window_keeps_what_became_known_after_the_proposal_was_made(repo, make, bus, tmp_path):
    """A nightly window holds what was completed in it: an edit accepted before last night's
    watermark, whose retention is measured a day later, is learnt the next night, not lost."""
    settings = FeedbackSettings(retention_delay_s=3600)
    recorder = attach(bus, repo, settings)
    kept = make(instruction="document add", new=CALC.replace("def add(a, b):\n", 'def add(a, b):\n    """Add."""\n'))
    bus.publish(ProposalEvent(kept))
    bus.publish(AcceptedEvent(kept, None, None, (("calc.py", kept.changes[0].new_text),)))
    recorder.close()
    (repo / "calc.py").write_text(kept.changes[0].new_text)
    last_night = time.time() + 60  # the watermark: the accept was before it, its retention not yet known
    with Store(db_path(settings)) as store:
        assert export(store, "sft", tmp_path / "n1", 0.0, last_night, window="ready").manifest["counts"]["total"] == 0
    follow_up(repo, settings, now=last_night + settings.retention_delay_s)  # measured the next day
    tonight = last_night + 86400
    with Store(db_path(settings)) as store:
        ready = export(store, "sft", tmp_path / "n2", last_night, tonight, test_fraction=0.0, window="ready")
        created = export(store, "sft", tmp_path / "c2", last_night, tonight, test_fraction=0.0)
        again = export(store, "sft", tmp_path / "n3", tonight, tonight + 86400, window="ready")
    assert ready.manifest["counts"]["by_source"] == {"accepted": 1} and ready.manifest["window"] == "ready"
    assert created.manifest["counts"]["total"] == 0  # by the day it was made, it belongs to a night already past
    assert again.manifest["counts"]["total"] == 0  # and it is learnt once
    (row,) = read_jsonl(tmp_path / "n2" / "jsonl" / "train.jsonl")
    assert row["prompt"] == [dict(m) for m in kept.messages]
    assert "Examples completed" in (tmp_path / "n2" / "README.md").read_text()
