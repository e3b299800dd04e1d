"""getopt.long_has_args: Replace the final assert with a GetoptError."""

SETUP = "from getopt import GetoptError\nfrom gettext import gettext as _"

REFERENCE = '''def long_has_args(opt, longopts):
    possibilities = [o for o in longopts if o.startswith(opt)]
    if not possibilities:
        raise GetoptError(_('option --%s not recognized') % opt, opt)
    # Is there an exact match?
    if opt in possibilities:
        return False, opt
    elif opt + '=' in possibilities:
        return True, opt
    # No exact match, so better be unique.
    if len(possibilities) > 1:
        # XXX since possibilities contains all valid continuations, might be
        # nice to work them into the error msg
        raise GetoptError(_('option --%s not a unique prefix') % opt, opt)
    if len(possibilities) != 1:
        raise GetoptError(_('option --%s has no unique match') % opt, opt)
    unique_match = possibilities[0]
    has_arg = unique_match.endswith('=')
    if has_arg:
        unique_match = unique_match[:-1]
    return has_arg, unique_match
'''

import ast

# the asked change (it cannot be reached from outside, so by form): no assert is left, and a GetoptError
# takes its place: a third raise of it, or the unique-prefix raise now guarded by len(possibilities) != 1
_fn = next(n for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.FunctionDef) and n.name == "long_has_args")
assert not [n for n in ast.walk(_fn) if isinstance(n, ast.Assert)], "the assert is still there"


def _raises_getopt_error(node):
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return (isinstance(node, ast.Raise) and
            (isinstance(exc, ast.Name) and exc.id == "GetoptError" or isinstance(exc, ast.Attribute)
             and exc.attr == "GetoptError"))


_raises = [n for n in ast.walk(_fn) if isinstance(n, ast.Raise) and _raises_getopt_error(n)]
_guarded = [n for n in ast.walk(_fn) if isinstance(n, ast.If) and ast.unparse(n.test).replace(" ", "") in
            ("len(possibilities)!=1", "1!=len(possibilities)", "notlen(possibilities)==1")
            and any(isinstance(b, ast.Raise) and _raises_getopt_error(b) for b in n.body)]
assert len(_raises) >= 3 or _guarded, "no GetoptError replaces the assert"

# the behaviour is kept: exact and prefix matches, with and without an argument, and the two errors
for _args, _want in [(("abc", ["abc"]), (False, "abc")), (("abc", ["abc="]), (True, "abc")),
                     (("ab", ["abc"]), (False, "abc")), (("ab", ["abc="]), (True, "abc")),
                     (("abc", ["abc", "abcd"]), (False, "abc")), (("abc", ["abcd", "abc="]), (True, "abc")),
                     (("a", ["alpha=", "beta"]), (True, "alpha"))]:
    assert long_has_args(*_args) == _want, (_args, long_has_args(*_args))
for _args, _msg in [(("x", ["abc"]), "option --x not recognized"),
                    (("ab", ["abc", "abd"]), "option --ab not a unique prefix")]:
    try:
        long_has_args(*_args)
    except GetoptError as _e:
        assert (_e.msg, _e.opt) == (_msg, _args[0]), (_e.msg, _e.opt)
    else:
        raise AssertionError(f"no GetoptError for {_args}")
