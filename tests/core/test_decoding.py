"""Constrained decoding without a model: line runs, scopes, JSON schema, backend probing.

Grammar checks against llama.cpp's own parser and matcher live in
test_decoding_llama.py; the end-to-end edit through the real server too.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

from amigo import edits
from amigo.decoding import (
    Window, answer_text, blocks_from_json, blocks_grammar, blocks_json_schema, clear_probe_cache,
    constraint_params, plan_constraint, probe_backend, scope_for, search_choices,
    unique_run_ends, whole_grammar,
)
from amigo.decoding.gbnf import is_marker_line, literal
from amigo.edits.lines import keys_of as split_lines
from amigo.errors import ConfigError
from amigo.prompt import EditRequest


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


TRICKY = (
    'def f(a, b="\\"quoted\\" [x] {y} (z) | * + ? # : ::= \\\\"):\n'
    "\tif a:\t# tab-indented\n"
    "\t\treturn 'ünïcødé → 😀 ∑ 中文'\n"
    "\treturn b\n"
    "\n"
    "LONG = '" + "x" * 5000 + "'\n"
    "\n"
    "def g():\n"
    "\treturn b\n"
)
CRLF = "x = 1\r\ny = 2\r\n\r\nz = 3\r\n"


def bad_answers(good: str) -> dict[str, str]:
    """Answers the blocks grammar for ``{"src/mod.py": TRICKY}`` (80 prose chars) must refuse."""
    lines = TRICKY.splitlines(keepends=True)
    return {
        "unknown path": block("other.py", lines[1], "x\n"),
        "not a line of the file": block("src/mod.py", "\tif b:\n", "x\n"),
        "lines not contiguous": block("src/mod.py", lines[1] + lines[3], "x\n"),
        "ambiguous (occurs twice)": block("src/mod.py", "\treturn b\n", "\treturn a\n"),
        "empty SEARCH on an existing file": block("src/mod.py", "", "x = 1\n"),
        "marker inside REPLACE": block("src/mod.py", lines[3], ">>>>>>> REPLACE\n\treturn a\n"),
        "fence inside REPLACE": block("src/mod.py", lines[3], "```python\n\treturn a\n"),
        "indented marker inside REPLACE": block("src/mod.py", lines[3], "  <<<<<<< SEARCH\n"),
        "fenced rewrite instead of blocks": "```python\ndef f():\n    pass\n```\n",
        "prose with a fence first": "Here:\n```\n" + good,
        "prose too long": "x" * 81 + "\n" + good,
        "missing REPLACE marker": good.replace(">>>>>>> REPLACE\n", ""),
    }


# ---------------------------------------------------------------- lines and runs


def test_split_lines_keeps_odd_characters_inside_lines() -> None:
    assert split_lines("") == []
    assert split_lines("a\r\nb\n") == ["a", "b"]
    assert split_lines("a\nb") == ["a", "b"]
    assert split_lines("x\x0cy\u2028z\rw\n") == ["x\x0cy\u2028z\rw"]
    assert split_lines("\n\n") == ["", ""]


def test_unique_run_ends_extend_until_the_run_occurs_once() -> None:
    lines = ["a", "b", "a", "c", "", "", "d"]
    ends = unique_run_ends(lines)
    assert ends[0] == 2 and ends[2] == 4  # "a" is ambiguous, "a b" / "a c" are not
    assert ends[1] == 2 and ends[3] == 4 and ends[6] == 7
    assert ends[4] == 6  # "" "" is unique, a lone "" is not
    assert ends[5] == 7


def test_unique_run_ends_leaves_out_starts_without_a_unique_run() -> None:
    lines = ["x", "x", "x"]
    assert unique_run_ends(lines) == {0: 3}
    # Inside a window the run must also end inside it.
    assert unique_run_ends(["x", "y", "x", "y", "z"], Window(0, 4)) == {0: 3, 1: 3}


def test_unique_runs_are_judged_against_the_whole_file() -> None:
    lines = ["dup", "a", "b", "dup"]
    assert 0 not in unique_run_ends(lines, Window(0, 1))
    assert unique_run_ends(lines, Window(0, 2))[0] == 2


def test_scope_for_small_files_is_the_whole_file() -> None:
    assert scope_for("a\nb\n", (1, 1), cap_lines=10) == Window(0, 2)


def test_scope_for_takes_the_enclosing_top_level_block_plus_margin() -> None:
    funcs = []
    for k in range(60):
        funcs.append(f"def f{k}(x):\n    y = x + {k}\n    return y\n\n")
    text = "".join(funcs)
    # f30 starts on line 121 (1-based): its body is lines 122-123.
    window = scope_for(text, (122, 122), cap_lines=50, margin=5)
    lines = split_lines(text)
    assert lines[120] == "def f30(x):"
    assert window.lo == 120 - 5 and window.hi == 124 + 5
    assert len(window) <= 50


def test_scope_for_clips_to_the_cap_around_the_selection() -> None:
    text = "def big():\n" + "".join(f"    x{k} = {k}\n" for k in range(5000))
    window = scope_for(text, (2500, 2510), cap_lines=200)
    assert len(window) == 200 and window.lo <= 2499 and window.hi >= 2510
    assert scope_for(text, None, cap_lines=200) == Window(0, 200)
    with pytest.raises(ValueError):
        scope_for(text, None, cap_lines=0)


# ---------------------------------------------------------------- grammar text


def test_literal_escapes_everything_gbnf_treats_specially() -> None:
    assert literal('a"b\\c') == '"a\\"b\\\\c"'
    assert literal("\t\r\n") == '"\\t\\r\\n"'
    assert literal("\x00\x1b\x7f") == '"\\x00\\x1B\\x7F"'
    assert literal("ünï😀") == '"ünï😀"'


def test_marker_lines_are_recognised_as_the_parser_reads_them() -> None:
    assert is_marker_line("=======")
    assert is_marker_line("  >>>>>>> REPLACE")
    assert is_marker_line("<<<<<<< SEARCH")
    assert not is_marker_line("========")  # eight: not the width we write
    assert not is_marker_line("x = 1")


def test_blocks_grammar_offers_only_unique_runs_and_skips_marker_lines() -> None:
    text = "a = 1\n\nb = 2\n\nTitle\n=======\nafter\n"
    grammar = blocks_grammar({"doc.py": text}, max_prose_chars=0)
    assert '"=======\\n" replace' in grammar  # the divider itself
    assert grammar.count('"=======\\n"') == 1  # the file's own ======= line is never offered
    assert '"Title\\n" | ""' in grammar  # after "Title" the SEARCH must end: the marker line is a barrier
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())
    assert rules["root"] == 'block ("\\n"? block){0,7}'


def test_blocks_grammar_rejects_requests_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="at least one file"):
        blocks_grammar({})
    with pytest.raises(ValueError, match="one line"):
        blocks_grammar({"a\nb.py": "x\n"})


def test_grammar_size_stays_near_the_file_size() -> None:
    text = "".join(f"    value_{k % 50} = compute({k % 7})\n" for k in range(1000))
    grammar = blocks_grammar({"big.py": text})
    assert len(grammar) < 4 * len(text)


def test_whole_grammar_names_the_language() -> None:
    grammar = whole_grammar("python")
    assert grammar.startswith('root ::= "```" ("python")? "\\n"')
    assert "(\"text\")" not in whole_grammar("text")


# ---------------------------------------------------------------- JSON variant


def test_search_choices_are_contiguous_unique_runs() -> None:
    text = "a\nb\na\nc\n"
    choices = search_choices(text)
    assert "a\nb\n" in choices and "b\n" in choices and "a\nc\n" in choices
    assert "a\n" not in choices  # ambiguous
    for choice in choices:
        assert choice in text
    assert search_choices("") == [""]


def test_json_answer_round_trips_into_blocks_that_apply() -> None:
    text = "def f(x):\n    return x\n"
    schema = blocks_json_schema({"f.py": text})
    item = schema["properties"]["blocks"]["items"]
    assert item["properties"]["path"]["enum"] == ["f.py"]
    assert "    return x\n" in item["properties"]["search"]["enum"]
    answer = blocks_from_json(json.dumps(
        {"blocks": [{"path": "f.py", "search": "    return x\n", "replace": "    return x + 1"}]}
    ))
    applied = edits.apply_answer(answer, {"f.py": text}, "f.py")
    assert applied.errors == ()
    assert applied.new_texts["f.py"] == "def f(x):\n    return x + 1\n"


def test_json_schema_with_several_files_pairs_path_and_search() -> None:
    schema = blocks_json_schema({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    variants = schema["properties"]["blocks"]["items"]["anyOf"]
    assert [v["properties"]["path"]["enum"] for v in variants] == [["a.py"], ["b.py"]]


@pytest.mark.parametrize("bad, message", [
    ("{", "does not parse"),
    ('{"edits": []}', 'no "blocks"'),
    ('{"blocks": [1]}', "not an object"),
    ('{"blocks": [{"path": "a.py", "search": "x"}]}', '"replace"'),
    ('{"blocks": [{"path": "a\\nb", "search": "", "replace": ""}]}', "bad path"),
])
def test_blocks_from_json_names_what_is_wrong(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        blocks_from_json(bad)


def test_answer_text_leaves_unconvertible_json_for_the_parser_to_reject() -> None:
    assert answer_text("not json", "constrained-json") == "not json"
    assert answer_text("free text", "free") == "free text"
    good = '{"blocks": [{"path": "a.py", "search": "x = 1\\n", "replace": "x = 2\\n"}]}'
    assert "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE" in answer_text(good, "constrained-json")


# ---------------------------------------------------------------- probing real HTTP servers


class _Server:
    """A real HTTP server on a free port whose routes are plain functions."""

    def __init__(self, routes: dict[str, Callable[[dict | None], tuple[int, Any]]]) -> None:
        self.routes = routes
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: dict | None) -> None:
                route = outer.routes.get(self.path)
                status, payload = route(body) if route else (404, {"detail": "Not Found"})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._answer(None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.bodies.append(body)
                self._answer(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _chat(content: str) -> tuple[int, dict]:
    return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                              "finish_reason": "stop"}]}


def _openapi(*fields: str) -> Callable[[dict | None], tuple[int, dict]]:
    schema = {"components": {"schemas": {"ChatCompletionRequest": {
        "properties": {name: {} for name in ("model", "messages", *fields)}}}}}
    return lambda _body: (200, schema)


MALFORMED = "Sure! Here is the fixed code:\n```python\ndef load_users(rows):\n    return []\n```\n"
USERS = "def load_users(rows):\n    return [User(n, int(a)) for n, a in rows]\n"


@pytest.fixture(autouse=True)
def _fresh_probe_cache() -> Iterator[None]:
    clear_probe_cache()
    yield
    clear_probe_cache()


def _request(text: str = USERS, **kw: Any) -> EditRequest:
    return EditRequest(instruction="Return an empty list when rows is empty.", path="users.py", file_text=text, **kw)


def test_a_server_that_ignores_the_grammar_is_refused_and_its_answer_still_validated() -> None:
    routes = {
        "/version": lambda _b: (200, {"version": "0.32.0"}),
        "/openapi.json": _openapi("structured_outputs", "temperature"),
        "/v1/chat/completions": lambda _b: _chat(MALFORMED),
    }
    with _Server(routes) as server:
        backend = probe_backend(server.base_url, "m")
        sent = server.bodies[-1]
    assert backend.kind == "vllm" and backend.version == "0.32.0"
    assert not backend.constrainable and not backend.verified
    assert "ignored a test grammar" in backend.describe()
    assert sent["structured_outputs"]["grammar"] and not any(k.startswith("guided_") for k in sent)
    with pytest.raises(ConfigError, match="decoding = \"auto\" or \"free\""):
        constraint_params(_request(), backend, "constrained")
    assert constraint_params(_request(), backend, "auto") == {"decoding": "free"}
    # What such a server says is never trusted: amigo.edits rejects it.
    applied = edits.apply_answer(MALFORMED, {"users.py": USERS}, "users.py")
    assert applied.new_texts == {} and applied.errors


def test_a_vllm_that_obeys_gets_structured_outputs_and_is_cached() -> None:
    def chat(body: dict | None) -> tuple[int, dict]:
        grammar = ((body or {}).get("structured_outputs") or {}).get("grammar")
        return _chat("amigo-ok" if grammar == 'root ::= "amigo-ok"' else MALFORMED)

    routes = {"/version": lambda _b: (200, {"version": "0.32.0"}),
              "/openapi.json": _openapi("structured_outputs"), "/v1/chat/completions": chat}
    with _Server(routes) as server:
        backend = probe_backend(server.base_url, "m")
        assert probe_backend(server.base_url, "m") is backend
        assert len(server.bodies) == 1  # probed once
    assert backend.verified and backend.grammar_via == "structured_outputs"
    params = constraint_params(_request(), backend, "constrained")
    assert params["decoding"] == "constrained-gbnf"
    assert "users.py\\n<<<<<<< SEARCH\\n" in params["structured_outputs"]["grammar"]
    json_params = constraint_params(_request(), backend, "auto", prefer="json")
    assert json_params["decoding"] == "constrained-json"
    assert json_params["structured_outputs"]["json"]["properties"]["blocks"]
    whole = constraint_params(_request(edit_format="whole"), backend, "auto")
    assert whole["structured_outputs"]["grammar"].startswith('root ::= "```" ("python")?')
    assert constraint_params(_request(), backend, "free") == {"decoding": "free"}
    with pytest.raises(ConfigError, match="not one of"):
        constraint_params(_request(), backend, "sometimes")


def test_an_old_vllm_with_only_guided_parameters_is_refused() -> None:
    routes = {"/version": lambda _b: (200, {"version": "0.8.5"}),
              "/openapi.json": _openapi("guided_grammar", "guided_json")}
    with _Server(routes) as server:
        backend = probe_backend(server.base_url, "m")
        assert server.bodies == []  # nothing was even tried
    assert backend.kind == "vllm" and not backend.constrainable
    assert "guided_" in backend.note


def test_a_server_that_rejects_the_grammar_field_is_refused() -> None:
    fields = _openapi("grammar")
    routes = {"/openapi.json": fields,
              "/v1/chat/completions": lambda _b: (400, {"error": {"message": "unknown field grammar"}})}
    with _Server(routes) as server:
        backend = probe_backend(server.base_url, "m")
    assert backend.kind == "llama-cpp-python" and not backend.constrainable
    assert "HTTP 400" in backend.note


def test_ollama_and_plain_openai_servers_decode_freely() -> None:
    with _Server({"/api/version": lambda _b: (200, {"version": "0.12.0"})}) as server:
        ollama = probe_backend(server.base_url, "m")
    assert ollama.kind == "ollama" and not ollama.constrainable
    with _Server({"/v1/models": lambda _b: (200, {"data": []})}) as server:
        plain = probe_backend(server.base_url, "m")
    assert plain.kind == "openai-compatible" and not plain.constrainable
    assert plan_constraint(_request(), plain, "auto").decoding == "free"


def test_an_unreachable_server_is_reported_and_not_cached() -> None:
    with _Server({}) as server:
        url = server.base_url
    backend = probe_backend(url, "m", timeout=1.0)
    assert backend.kind == "unreachable" and "cannot connect" in backend.note


def test_big_files_are_constrained_to_the_selection_scope() -> None:
    text = "".join(f"def f{k}(x):\n    return x + {k}\n\n" for k in range(400))
    routes = {"/version": lambda _b: (200, {"version": "0.32.0"}),
              "/openapi.json": _openapi("structured_outputs")}
    with _Server(routes) as server:
        backend = probe_backend(server.base_url, "m", verify=False)
    plan = plan_constraint(_request(text, selection=(601, 602)), backend, "constrained", cap_lines=100)
    assert plan.window is not None and len(plan.window) <= 100
    grammar = plan.body["structured_outputs"]["grammar"]
    assert '"def f200(x):\\n"' in grammar and '"def f10(x):\\n"' not in grammar


def test_the_size_cap_follows_the_server_that_compiles_the_grammar() -> None:
    from amigo.decoding import DEFAULT_CAP_LINES, VLLM_CAP_LINES, Backend, default_cap_lines

    text = "".join(f"def f{k}(x):\n    return x + {k}\n\n" for k in range(500))  # 1,500 lines
    request = _request(text, selection=(751, 752))
    vllm = Backend("http://unused/v1", "m", "vllm", "structured_outputs", "structured_outputs", "0.32.0")
    llama = Backend("http://unused/v1", "m", "llama.cpp", "grammar", "json_schema")
    assert default_cap_lines(vllm) == VLLM_CAP_LINES < 1500 < DEFAULT_CAP_LINES == default_cap_lines(llama)
    windowed = plan_constraint(request, vllm, "constrained")
    assert windowed.window is not None and len(windowed.window) <= VLLM_CAP_LINES
    assert '"def f250(x):\\n"' in windowed.body["structured_outputs"]["grammar"]
    assert plan_constraint(request, llama, "constrained").window is None
    assert plan_constraint(request, vllm, "constrained", cap_lines=2000).window is None  # an explicit cap wins
