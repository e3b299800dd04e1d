"""The same grammars through xgrammar, the structured-output engine vLLM uses.

vLLM receives our GBNF as ``structured_outputs.grammar`` and hands it to
xgrammar; these tests show xgrammar parses every generated grammar and
accepts and refuses the same answers as llama.cpp. ``_is_grammar_accept_string``
is xgrammar's own test helper (character level, no tokenizer needed).
"""

from __future__ import annotations

import pytest

xgr = pytest.importorskip("xgrammar")
testing = pytest.importorskip("xgrammar.testing")

from amigo.decoding import blocks_grammar, whole_grammar  # noqa: E402
from test_decoding import CRLF, TRICKY, bad_answers, block  # noqa: E402


def accepts(grammar: str, text: str) -> bool:
    return bool(testing._is_grammar_accept_string(grammar, text))


@pytest.mark.parametrize("text", [TRICKY, CRLF, "", "alpha\nbeta", "a = 1\x0c\nb = '\u2028'\n", "s = '\x01'\n"],
                         ids=["tricky", "crlf", "empty", "no-final-newline", "form-feed", "control"])
def test_xgrammar_parses_every_generated_grammar(text: str) -> None:
    xgr.Grammar.from_ebnf(blocks_grammar({"src/mod.py": text}))
    xgr.Grammar.from_ebnf(blocks_grammar({"src/mod.py": text, "b.py": "q = 1\n"}, allow_new_files=True))
    xgr.Grammar.from_ebnf(whole_grammar("python"))


def test_xgrammar_accepts_and_refuses_what_llama_cpp_does() -> None:
    grammar = blocks_grammar({"src/mod.py": TRICKY}, max_prose_chars=80)
    lines = TRICKY.splitlines(keepends=True)
    good = block("src/mod.py", "".join(lines[1:3]), "\tif a and b:\n\t\treturn 'ok'\n")
    assert accepts(grammar, good)
    assert accepts(grammar, "I will change the condition.\n" + good)
    assert accepts(grammar, block("src/mod.py", lines[5], "LONG = 'short'\n"))
    for why, answer in bad_answers(good).items():
        assert not accepts(grammar, answer), why
    crlf = blocks_grammar({"c.py": CRLF}, max_prose_chars=0)
    assert accepts(crlf, block("c.py", "y = 2\n", "y = 3\n"))
    assert not accepts(crlf, block("c.py", "y = 2\r\n", "y = 3\n"))
