"""sysconfig._subst_vars: Add a docstring explaining the fallback to os.environ."""

SETUP = "import os"

REFERENCE = '''def _subst_vars(s, local_vars):
    """Format s with the {name} fields taken from local_vars.

    If a field is missing from local_vars, fall back to formatting s with
    os.environ instead; if it is missing there too, raise AttributeError.
    """
    try:
        return s.format(**local_vars)
    except KeyError as var:
        try:
            return s.format(**os.environ)
        except KeyError:
            raise AttributeError(f'{var}') from None
'''

import re

# the asked change: a docstring, which speaks of the fallback to the environment (os.environ)
assert FUNCTION.__doc__ and FUNCTION.__doc__.strip()
assert re.search(r"environ", FUNCTION.__doc__, re.IGNORECASE)

# the behaviour is kept: local_vars first, os.environ when a name is missing, AttributeError otherwise
os.environ["HD_TESTVAR"] = "fromenv"
os.environ.pop("HD_NOPE_VAR", None)
assert _subst_vars("{a}/{b}", {"a": "x", "b": "y"}) == "x/y"
assert _subst_vars("plain", {}) == "plain"
assert _subst_vars("{HD_TESTVAR}/z", {"a": "x"}) == "fromenv/z"
assert _subst_vars("{HD_TESTVAR}", {"HD_TESTVAR": "local"}) == "local"
try:
    _subst_vars("{HD_NOPE_VAR}", {})
except AttributeError as exc:
    assert str(exc) == "'HD_NOPE_VAR'" and exc.__suppress_context__
else:
    raise AssertionError("no AttributeError for a name missing everywhere")
