"""Grammars checked by llama.cpp itself, and a constrained edit through the real server.

``LlamaChecker`` loads only the embedded model's vocabulary and drives
llama.cpp's grammar sampler token by token: a token the grammar forbids gets
a logit of -inf. So "accepted" here means accepted by the same C++ code that
constrains the server, not by a re-implementation.
"""

from __future__ import annotations

import ctypes
import math
import time
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip("llama_cpp")

from amigo import edits  # noqa: E402
from amigo.client import ChatClient  # noqa: E402
from amigo.decoding import (  # noqa: E402
    blocks_grammar, constraint_params, plan_constraint, probe_backend, whole_grammar,
)
from amigo.prompt import EditRequest, build_messages  # noqa: E402
from amigo.config import EMBEDDED_MODEL  # noqa: E402
from test_decoding import CRLF, TRICKY, bad_answers, block  # noqa: E402
from helpers import TALK_PY  # noqa: E402


def gguf_path() -> Path:
    from amigo.errors import AmigoError
    from amigo.serve import embedded_model_path

    try:
        return embedded_model_path()
    except AmigoError as err:
        pytest.skip(str(err))


class LlamaChecker:
    """Feeds text to llama.cpp's grammar sampler and reports whether it is accepted."""

    def __init__(self) -> None:
        self.llm = llama_cpp.Llama(model_path=str(gguf_path()), vocab_only=True, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.eos = llama_cpp.llama_vocab_eos(self.vocab)

    def compile(self, grammar: str) -> ctypes.c_void_p | None:
        sampler = llama_cpp.llama_sampler_init_grammar(self.vocab, grammar.encode("utf-8"), b"root")
        return sampler or None

    def _allowed(self, sampler: ctypes.c_void_p, token: int) -> bool:
        data = (llama_cpp.llama_token_data * 1)()
        data[0].id, data[0].logit, data[0].p = token, 0.0, 0.0
        array = llama_cpp.llama_token_data_array(data, 1, -1, False)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        return not math.isinf(data[0].logit)

    def accepts(self, grammar: str, text: str, complete: bool = True) -> bool:
        """True when ``text`` is a valid answer (``complete``: may end there)."""
        sampler = self.compile(grammar)
        assert sampler is not None, "llama.cpp refused to parse the grammar"
        try:
            for token in self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False):
                if not self._allowed(sampler, token):
                    return False
                llama_cpp.llama_sampler_accept(sampler, token)
            return self._allowed(sampler, self.eos) if complete else True
        finally:
            llama_cpp.llama_sampler_free(sampler)


@pytest.fixture(scope="module")
def checker() -> LlamaChecker:
    return LlamaChecker()


FILES = {
    "tricky": TRICKY,
    "crlf": CRLF,
    "empty": "",
    "no-final-newline": "alpha\nbeta",
    "form-feed-and-u2028": "a = 1\x0c\nb = '\u2028'\n",
    "control-characters": "s = '\x01\x1b[0m'\n",
}


@pytest.mark.parametrize("name, text", list(FILES.items()), ids=list(FILES))
def test_llama_cpp_parses_every_generated_grammar(checker: LlamaChecker, name: str, text: str) -> None:
    for grammar in (
        blocks_grammar({"src/mod.py": text}),
        blocks_grammar({"src/mod.py": text, "b.py": "q = 1\n"}, allow_new_files=True, max_prose_chars=0),
    ):
        sampler = checker.compile(grammar)
        assert sampler is not None, name
        llama_cpp.llama_sampler_free(sampler)


def test_the_checker_sees_llama_cpp_refuse_a_broken_grammar(checker: LlamaChecker) -> None:
    assert checker.compile('root ::= "unterminated') is None
    assert checker.compile("root ::= undefined-rule") is None


def test_good_answers_are_accepted_and_bad_ones_rejected(checker: LlamaChecker) -> None:
    grammar = blocks_grammar({"src/mod.py": TRICKY}, max_prose_chars=80)
    lines = TRICKY.splitlines(keepends=True)
    good = block("src/mod.py", "".join(lines[1:3]), "\tif a and b:\n\t\treturn 'ok'\n")
    assert checker.accepts(grammar, good)
    assert checker.accepts(grammar, "I will change the condition.\n" + good)
    long_line = block("src/mod.py", lines[5], "LONG = 'short'\n")
    assert checker.accepts(grammar, long_line)
    # The whole file (it is unique) and deleting with an empty REPLACE.
    assert checker.accepts(grammar, block("src/mod.py", TRICKY, ""))
    bad = bad_answers(good)
    for why, answer in bad.items():
        assert not checker.accepts(grammar, answer), why
    # An unfinished answer is a valid prefix, but may not end there.
    assert checker.accepts(grammar, good[:40], complete=False)
    assert not checker.accepts(grammar, good[:40])
    # Every answer the grammar accepts parses and applies.
    applied = edits.apply_answer(good, {"src/mod.py": TRICKY}, "src/mod.py")
    assert applied.errors == () and "if a and b:" in applied.new_texts["src/mod.py"]


def test_ambiguous_lines_become_usable_with_context(checker: LlamaChecker) -> None:
    grammar = blocks_grammar({"src/mod.py": TRICKY}, max_prose_chars=0)
    answer = block("src/mod.py", "def g():\n\treturn b\n", "def g():\n\treturn None\n")
    assert checker.accepts(grammar, answer)
    applied = edits.apply_answer(answer, {"src/mod.py": TRICKY}, "src/mod.py")
    assert applied.errors == () and applied.new_texts["src/mod.py"].endswith("def g():\n\treturn None\n")


def test_crlf_files_are_searched_with_lf_and_keep_crlf(checker: LlamaChecker) -> None:
    grammar = blocks_grammar({"c.py": CRLF}, max_prose_chars=0)
    answer = block("c.py", "y = 2\n", "y = 3\n")
    assert checker.accepts(grammar, answer)
    assert not checker.accepts(grammar, block("c.py", "y = 2\r\n", "y = 3\n"))
    applied = edits.apply_answer(answer, {"c.py": CRLF}, "c.py")
    assert applied.new_texts["c.py"] == "x = 1\r\ny = 3\r\n\r\nz = 3\r\n"


def test_empty_and_new_files_take_only_an_empty_search(checker: LlamaChecker) -> None:
    grammar = blocks_grammar({"empty.py": ""}, allow_new_files=True, max_prose_chars=0)
    assert checker.accepts(grammar, block("empty.py", "", "print('hi')\n"))
    assert not checker.accepts(grammar, block("empty.py", "x\n", "y\n"))
    assert checker.accepts(grammar, block("pkg/new_mod.py", "", "X = 1\n"))
    assert not checker.accepts(grammar, block("pkg/new_mod.py", "X\n", "X = 1\n"))
    assert not checker.accepts(grammar, block("bad path.py", "", "X = 1\n"))
    closed = blocks_grammar({"empty.py": ""}, max_prose_chars=0)
    assert not checker.accepts(closed, block("pkg/new_mod.py", "", "X = 1\n"))


def test_fences_may_be_replaced_in_files_that_have_them(checker: LlamaChecker) -> None:
    text = "# Title\n\n```python\nx = 1\n```\n"
    grammar = blocks_grammar({"README.md": text}, max_prose_chars=0)
    assert checker.accepts(grammar, block("README.md", "x = 1\n```\n", "x = 2\n```\n"))


def test_block_count_is_bounded(checker: LlamaChecker) -> None:
    text = "a = 1\nb = 2\n"
    one = block("m.py", "a = 1\n", "a = 3\n")
    two = one + "\n" + block("m.py", "b = 2\n", "b = 3\n")
    assert checker.accepts(blocks_grammar({"m.py": text}, max_blocks=2), two)
    assert not checker.accepts(blocks_grammar({"m.py": text}, max_blocks=1), two)


def test_whole_grammar_is_one_fence(checker: LlamaChecker) -> None:
    grammar = whole_grammar("python")
    assert checker.accepts(grammar, "```python\ndef f():\n    return 1\n```\n")
    assert checker.accepts(grammar, "```\nx = '~'\n```")
    assert not checker.accepts(grammar, "Sure:\n```python\nx\n```\n")
    assert not checker.accepts(grammar, "```python\nx\n```\n```\ny\n```\n")


def test_windowed_grammar_for_a_big_file_compiles_quickly(checker: LlamaChecker) -> None:
    text = "".join(f"def f{k}(x):\n    return x + {k % 10}\n\n" for k in range(2000))
    request = EditRequest(instruction="x", path="big.py", file_text=text, selection=(3001, 3002))
    from amigo.decoding import Backend

    backend = Backend("http://unused/v1", "m", "llama-cpp-python", "grammar")
    plan = plan_constraint(request, backend, "constrained", cap_lines=300)
    assert plan.window is not None and len(plan.window) <= 300
    grammar = plan.body["grammar"]
    started = time.perf_counter()
    assert checker.accepts(grammar, block("big.py", "def f1000(x):\n", "def f1000(x: int):\n"))
    assert time.perf_counter() - started < 30  # generous: a sanity bound, not a benchmark
    assert not checker.accepts(grammar, block("big.py", "def f10(x):\n", "def f10(y):\n"))


# ---------------------------------------------------------------- the real server


SMALL = TALK_PY


@pytest.mark.model
@pytest.mark.slow
def test_constrained_edit_through_the_real_llama_cpp_server(model_server: str, fresh_probe_cache: None) -> None:
    backend = probe_backend(model_server, EMBEDDED_MODEL)
    assert backend.kind == "llama-cpp-python" and backend.verified and backend.grammar_via == "grammar"
    request = EditRequest(instruction="Make shout add an exclamation mark.", path="talk.py", file_text=SMALL)
    params = constraint_params(request, backend, "constrained", max_prose_chars=0)
    assert params.pop("decoding") == "constrained-gbnf"
    with ChatClient(model_server, EMBEDDED_MODEL, read_timeout=300) as client:
        free = client.complete(build_messages(request), temperature=0, seed=0, max_tokens=200)
        answer = client.complete(build_messages(request), temperature=0, seed=0, max_tokens=300, **params)
    parsed = edits.parse_blocks(answer.text)
    assert parsed.errors == () and len(parsed.blocks) == 1, answer.text
    assert parsed.blocks[0].path == "talk.py"
    assert parsed.blocks[0].search in SMALL
    applied = edits.apply_answer(answer.text, {"talk.py": SMALL}, "talk.py")
    assert applied.errors == (), answer.text
    assert answer.text != free.text  # the constraint changed what the model wrote
