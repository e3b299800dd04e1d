"""copy._keep_alive: Use memo.setdefault instead of try/except KeyError."""

SETUP = ""

REFERENCE = '''def _keep_alive(x, memo):
    """Keeps a reference to the object x in the memo.

    Because we remember objects by their id, we have
    to assure that possibly temporary objects are kept
    alive by referencing them.
    We store a reference at the id of the memo, which should
    normally not be used unless someone tries to deepcopy
    the memo itself...
    """
    memo.setdefault(id(memo), []).append(x)
'''

import ast

# the asked change of form: memo.setdefault is called, and no try statement is left
_tree = ast.parse(SOURCE)
assert any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "setdefault"
           for n in ast.walk(_tree))
assert not any(isinstance(n, (ast.Try, getattr(ast, "TryStar", ast.Try))) for n in ast.walk(_tree))

# the behaviour is kept: the first call stores [x] at id(memo), later calls append to that same list
memo = {1: "other"}
first, second = object(), object()
assert _keep_alive(first, memo) is None
assert memo == {1: "other", id(memo): [first]}
kept = memo[id(memo)]
_keep_alive(second, memo)
_keep_alive(first, memo)
assert memo[id(memo)] is kept and kept == [first, second, first]
assert len(memo) == 2
other = {}
_keep_alive(None, other)
assert other == {id(other): [None]}
