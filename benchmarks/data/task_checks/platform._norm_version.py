"""platform._norm_version: Rename the variable l to parts."""

SETUP = ""

REFERENCE = '''def _norm_version(version, build=''):

    """ Normalize the version and build strings and return a single
        version string using the format major.minor.build (or patchlevel).
    """
    parts = version.split('.')
    if build:
        parts.append(build)
    try:
        strings = list(map(str, map(int, parts)))
    except ValueError:
        strings = parts
    version = '.'.join(strings[:3])
    return version
'''

import ast as _ast

# the asked rename: parts is the local, l is gone from the code (the except branch included)
assert "parts" in FUNCTION.__code__.co_varnames, FUNCTION.__code__.co_varnames
assert "l" not in FUNCTION.__code__.co_varnames + FUNCTION.__code__.co_names
_names = {n.id for n in _ast.walk(_ast.parse(SOURCE)) if isinstance(n, _ast.Name)}
assert "l" not in _names and "parts" in _names, sorted(_names)

# the behaviour is kept: numeric parts normalized, the build appended, non-numeric kept as is, three parts at most
assert _norm_version("10.0.19041") == "10.0.19041"
assert _norm_version("1.02.3.4") == "1.2.3"
assert _norm_version("5.1", "2600") == "5.1.2600"
assert _norm_version("01.02.03", "") == "1.2.3"
assert _norm_version("1.a") == "1.a"
assert _norm_version("1.2", "x") == "1.2.x"
assert _norm_version("3") == "3"
assert _norm_version("") == ""
assert _norm_version("1.2.3.4.5", "7") == "1.2.3"
