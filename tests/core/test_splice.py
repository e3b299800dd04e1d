"""Splicing a whole-file answer that holds only the definitions it changed (real tree-sitter)."""

from __future__ import annotations

from amigo.splice import splice_definitions

from helpers import SAMPLE_USERS

OLDEST_FIXED = "def oldest(users):\n    if not users:\n        return None\n    return max(users, key=lambda u: u.age)\n"


def test_the_changed_function_replaces_its_namesake_and_the_rest_of_the_file_stays():
    spliced = splice_definitions(SAMPLE_USERS, OLDEST_FIXED, "python")
    assert spliced == SAMPLE_USERS.replace("def oldest(users):\n", "def oldest(users):\n    if not users:\n"
                                           "        return None\n")


def test_several_definitions_decorators_and_lines_the_file_has_are_taken():
    snippet = ("from dataclasses import dataclass\n\n\n@dataclass\nclass User:\n    name: str\n    age: int = 0\n\n\n"
               + OLDEST_FIXED)
    spliced = splice_definitions(SAMPLE_USERS, snippet, "python")
    assert spliced is not None
    assert "    age: int = 0\n" in spliced and "        return None\n" in spliced
    assert spliced.count("@dataclass") == 1 and "def load_users(rows):" in spliced
    # the decorator moved with its class: a snippet that drops it drops it in the file too
    bare = splice_definitions(SAMPLE_USERS, "class User:\n    name: str\n", "python")
    assert bare is not None and "@dataclass" not in bare


def test_an_answer_that_is_not_a_partial_rewrite_is_left_alone():
    assert splice_definitions(SAMPLE_USERS, "def youngest(users):\n    return min(users)\n", "python") is None
    assert splice_definitions(SAMPLE_USERS, "import os\n\n" + OLDEST_FIXED, "python") is None  # a new import
    assert splice_definitions(SAMPLE_USERS, "x = 1\n", "python") is None  # no definition
    assert splice_definitions(SAMPLE_USERS, OLDEST_FIXED + "\n" + OLDEST_FIXED, "python") is None  # twice
    twice = SAMPLE_USERS + "\n\ndef oldest(users):\n    return None\n"
    assert splice_definitions(twice, OLDEST_FIXED, "python") is None  # which one is meant?
    assert splice_definitions("oldest = 1\n", OLDEST_FIXED, None) is None  # no grammar


def test_other_languages_splice_by_their_own_grammar():
    old = "function a() {\n  return 1;\n}\n\nfunction b() {\n  return 2;\n}\n"
    assert splice_definitions(old, "function b() {\n  return 3;\n}\n", "javascript") == old.replace("2", "3")
