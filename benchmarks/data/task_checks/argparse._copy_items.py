"""argparse._copy_items: Use isinstance(items, list) instead of the type() comparison."""

SETUP = ""

REFERENCE = '''def _copy_items(items):
    if items is None:
        return []
    # The copy module is used only in the 'append' and 'append_const'
    # actions, and it is needed only when the default value isn't a list.
    # Delay its import for speeding up the common case.
    if isinstance(items, list):
        return items[:]
    import copy
    return copy.copy(items)
'''

import ast

# the asked form: isinstance(items, list), and no type() call left
_calls = [n for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
assert any(c.func.id == "isinstance" and len(c.args) == 2 and isinstance(c.args[0], ast.Name)
           and c.args[0].id == "items" and isinstance(c.args[1], ast.Name) and c.args[1].id == "list"
           for c in _calls), "no isinstance(items, list)"
assert not any(c.func.id == "type" for c in _calls), "type() is still used"

# the copies are kept: None gives a new empty list, a list a new equal list, others a shallow copy
assert _copy_items(None) == [] and type(_copy_items(None)) is list
_items = [1, [2]]
_copy = _copy_items(_items)
assert _copy == _items and _copy is not _items and _copy[1] is _items[1] and type(_copy) is list
_copy.append(3)
assert _items == [1, [2]]
_d = {"a": [1]}
assert _copy_items(_d) == _d and _copy_items(_d) is not _d and _copy_items(_d)["a"] is _d["a"]
assert _copy_items((1, 2)) == (1, 2)
assert _copy_items("abc") == "abc"
_e = []
assert _copy_items(_e) == [] and _copy_items(_e) is not _e
_s = {1, 2}
assert _copy_items(_s) == _s and _copy_items(_s) is not _s
