"""Tag extraction per language, with our own queries and real tree-sitter grammars."""

from __future__ import annotations

import pytest

from amigo.context.languages import TAG_LANGUAGES, query, tag_language
from amigo.context.tags import FileTags, extract

SAMPLES: dict[str, tuple[str, str, set[tuple[str, str]], set[str]]] = {
    "python": ("m.py", '''import os
from pkg.util import helper

LIMIT = 3

class Store(Base):
    size: int = 0

    def put(self, key, value) -> None:
        helper(key)

def build(n):
    return Store()
''', {("LIMIT", "constant"), ("Store", "class"), ("size", "field"), ("put", "method"),
      ("build", "function")}, {"helper", "Base", "Store"}),
    "javascript": ("m.js", '''import { helper } from "./util.js";
export const LIMIT = 3;
class Store extends Base {
  put(key) { return helper(key); }
}
function build(n) { return new Store(); }
const make = (x) => build(x);
''', {("LIMIT", "constant"), ("Store", "class"), ("put", "method"), ("build", "function"),
      ("make", "function")}, {"helper", "Base", "Store", "build"}),
    "typescript": ("m.ts", '''import { helper } from "./util";
export interface Shape { area(): number; }
type Id = string;
enum Color { Red, Green }
export class Square implements Shape {
  side: number = 1;
  area(): number { return helper(this.side); }
}
export function build(n: number): Square { return new Square(); }
''', {("Shape", "interface"), ("Id", "type"), ("Color", "enum"), ("Square", "class"),
      ("area", "method"), ("build", "function"), ("side", "field")}, {"helper", "Shape", "Square"}),
    "tsx": ("m.tsx", '''import React from "react";
export function Button(props: Props) { return <div>{render(props)}</div>; }
interface Props { label: string }
''', {("Button", "function"), ("Props", "interface")}, {"render", "Props"}),
    "go": ("m.go", '''package shop

import "fmt"

const Limit = 3

type Store struct { Size int }

func (s *Store) Put(key string) { helper(key) }

func Build(n int) *Store { return &Store{} }
''', {("Limit", "constant"), ("Store", "type"), ("Put", "method"), ("Build", "function"),
      ("Size", "field")}, {"helper", "Store"}),
    "rust": ("m.rs", '''use crate::util::helper;
const LIMIT: u32 = 3;
pub struct Store { size: u32 }
pub trait Shape { fn area(&self) -> f64; }
impl Store {
    pub fn put(&mut self, key: &str) { helper(key); }
}
pub fn build() -> Store { Store { size: 0 } }
''', {("LIMIT", "constant"), ("Store", "class"), ("Shape", "interface"), ("area", "method"),
      ("put", "method"), ("build", "function"), ("size", "field")}, {"helper", "Store"}),
    "java": ('''M.java''', '''package shop;
import java.util.List;
public class Store extends Base {
    private int size;
    public Store() {}
    public void put(String key) { Helper.help(key); }
}
interface Shape { double area(); }
''', {("Store", "class"), ("size", "field"), ("put", "method"), ("Shape", "interface"),
      ("area", "method")}, {"Base", "Helper"}),
    "c": ("m.c", '''#include "util.h"
#define LIMIT 3
struct store { int size; };
typedef struct store store_t;
static int helper_count;
int build(int n) { return helper(n) + LIMIT; }
''', {("LIMIT", "constant"), ("store", "class"), ("store_t", "type"), ("build", "function")},
          {"helper", "LIMIT"}),
    "cpp": ("m.cpp", '''#include <vector>
namespace shop {
class Store : public Base {
 public:
  void put(int key);
  int size() const { return n_; }
 private:
  int n_;
};
void Store::put(int key) { helper(key); }
}
''', {("shop", "module"), ("Store", "class"), ("put", "method"), ("size", "method")},
            {"helper", "Base"}),
}


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_definitions_and_references_per_language(language: str) -> None:
    path, source, expected_defs, expected_refs = SAMPLES[language]
    assert tag_language(path) == language
    tags = extract(source.encode(), language)
    found = {(d[0], d[1]) for d in tags.definitions}
    assert expected_defs <= found, expected_defs - found
    assert expected_refs <= set(tags.references), expected_refs - set(tags.references)
    assert tags.imports, "import statements are captured"
    assert not tags.syntax_errors


def test_every_grammar_and_query_loads() -> None:
    for language in TAG_LANGUAGES:
        assert query(language) is not None, language


def test_methods_carry_their_class_and_signature_lines() -> None:
    tags = extract(SAMPLES["python"][1].encode(), "python")
    put = next(d for d in tags.definitions if d[0] == "put")
    assert put[4] == "Store"
    assert put[5].strip() == "def put(self, key, value) -> None:"
    assert (put[2], put[3]) == (9, 10)


def test_multiline_signature_is_kept_whole() -> None:
    source = b"def long(\n    a: int,\n    b: str,\n) -> None:\n    pass\n"
    (definition,) = extract(source, "python").definitions
    assert definition[5] == "def long(\n    a: int,\n    b: str,\n) -> None:"


def test_syntax_errors_still_yield_the_partial_tree() -> None:
    source = b"def good(x):\n    return x\n\ndef broken(:\n    pass\n\nclass Later:\n    def m(self): ...\n"
    tags = extract(source, "python")
    names = {d[0] for d in tags.definitions}
    assert tags.syntax_errors
    assert {"good", "Later"} <= names


def test_locals_and_attributes_are_weak_references() -> None:
    source = b"from lib import run\n\ndef f(output):\n    total = run(output)\n    return obj.total + total\n"
    tags = extract(source, "python")
    assert tags.references.get("run") == 2  # the import and the call
    assert "output" not in tags.references and "output" in tags.weak_references
    assert "total" not in tags.references


def test_unknown_language_gets_plain_words() -> None:
    assert tag_language("notes.rb") is None
    tags = extract(b"def greet(name)\n  puts name\nend\n", None)
    assert tags.definitions == ()
    assert {"greet", "puts", "name"} <= set(tags.references)


def test_record_round_trip() -> None:
    tags = extract(SAMPLES["go"][1].encode(), "go")
    assert FileTags.from_record(tags.to_record()) == tags


# Sources where a definition's own name is not the first name inside it: several
# declarators in one declaration, a typedef named after its body, nested classes.
PAIRING_CASES = {
    "javascript": ("var convert = require('./convert'),\n    func = convert('lte'),\n    other = 2;\n"
                   "const f = () => 1, g = function () { return 2; };\n"
                   "class A { m() { class B { n() {} } } }\n"),
    "c": ("typedef struct node { int value; struct node *next; } Node;\n"
          "typedef enum { RED = 1, GREEN } Color;\n"
          "int add(int a, int b) { return a + b; }\n"),
    "cpp": "namespace shop { struct S { int a, b; void f(); }; typedef S T; }\nint S::g() { return 1; }\n",
    "go": "package p\nconst A, B = 1, 2\ntype T struct { X, Y int }\nfunc (t *T) M() {}\n",
    "rust": "struct S { a: i32 }\nimpl S { fn new() -> Self { S { a: 1 } } }\nmod m { pub fn h() {} }\n",
    "java": "class A { int x, y; class B { void m() {} } enum E { P; void q() {} } }\n",
    "typescript": "export const a = 1, b = () => 2;\ninterface I { p: number; q(): void }\n"
                  "class K { private z = 0; static w(): K { return new K(); } }\n",
}


def _definition_query(language: str):
    """Only the definition and import patterns of the tag query (top-level S-expressions
    without a use capture), as one query."""
    from tree_sitter import Query

    from amigo.context import languages

    patterns, current, depth = [], [], 0
    for line in languages.query_source(language).splitlines():
        if not current and (not line.strip() or line.lstrip().startswith(";")):
            continue
        current.append(line)
        depth += line.count("(") + line.count("[") - line.count(")") - line.count("]")
        if depth == 0:
            patterns.append("\n".join(current))
            current = []
    uses = ("@ref", "@weak", "@local")
    return Query(languages.grammar(language),
                 "\n".join(p for p in patterns if not any(u in p for u in uses)))


def _definitions_by_match(source: bytes, language: str) -> set[tuple[str, str, int, int]]:
    """The reference pairing: one definition per match of the definition patterns
    (a second pass over the tree, which the one-pass extraction avoids)."""
    from tree_sitter import QueryCursor

    from amigo.context import languages
    from amigo.context.tags import _PRIORITY

    def_query = _definition_query(language)
    root = languages.parser(language).parse(source).root_node
    found: dict[int, tuple[str, str, int, int]] = {}
    for _, captures in QueryCursor(def_query).matches(root):
        if "import" in captures or not captures.get("name"):
            continue
        name = captures["name"][0]
        kind, node = next((k, v[0]) for k, v in captures.items() if k != "name")
        previous = found.get(name.start_byte)
        if previous is None or _PRIORITY.get(kind, 0) > _PRIORITY.get(previous[1], 0):
            found[name.start_byte] = (name.text.decode(), kind, node.start_point[0] + 1, node.end_point[0] + 1)
    return set(found.values())


@pytest.mark.parametrize("language", sorted(set(SAMPLES) | set(PAIRING_CASES)))
def test_one_pass_pairs_names_with_definitions_as_matches_do(language: str) -> None:
    sources = [s for s in (PAIRING_CASES.get(language), SAMPLES.get(language, (None, None))[1]) if s]
    for source in sources:
        data = source.encode()
        # kinds as the patterns capture them (extract turns a function in a class into a method)
        got = {(d[0], d[1] if d[1] != "method" else "function", d[2], d[3]) for d in extract(data, language).definitions}
        want = {(n, k if k != "method" else "function", a, b) for n, k, a, b in _definitions_by_match(data, language)
                if k != "impl"}
        assert got == want, (language, got ^ want)
