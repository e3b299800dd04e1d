"""colorsys.hls_to_rgb: Add a docstring explaining the h, l, s arguments."""

SETUP = "from colorsys import ONE_THIRD, _v"

REFERENCE = '''def hls_to_rgb(h, l, s):
    """Convert a colour from HLS to RGB coordinates.

    h is the hue, l the lightness and s the saturation, each a float
    between 0 and 1.  Return a tuple (r, g, b) of floats between 0 and 1.
    """
    if s == 0.0:
        return l, l, l
    if l <= 0.5:
        m2 = l * (1.0+s)
    else:
        m2 = l+s-(l*s)
    m1 = 2.0*l - m2
    return (_v(m1, m2, h+ONE_THIRD), _v(m1, m2, h), _v(m1, m2, h-ONE_THIRD))
'''

import math
import re

# the asked docstring: it is the function's docstring and explains hue, lightness (luminance) and saturation
_doc = FUNCTION.__doc__ or ""
assert _doc.strip(), "no docstring"
assert re.search(r"\bhue", _doc, re.I), "h (hue) is not explained"
assert re.search(r"\blight|\blumin", _doc, re.I), "l (lightness) is not explained"
assert re.search(r"\bsatur", _doc, re.I), "s (saturation) is not explained"

# the conversion is kept
for _args, _rgb in [((0, 0.5, 0), (0.5, 0.5, 0.5)), ((0, 0.5, 1), (1.0, 0.0, 0.0)),
                    ((1 / 3, 0.5, 1), (0.0, 1.0, 0.0)), ((2 / 3, 0.25, 0.5), (0.125, 0.125, 0.375)),
                    ((0.1, 0.8, 0.3), (0.86, 0.812, 0.74)), ((0.5, 0, 1), (0.0, 0.0, 0.0)),
                    ((0.5, 1, 1), (1.0, 1.0, 1.0)), ((0.9, 0.6, 0.7), (0.88, 0.32, 0.656))]:
    _got = hls_to_rgb(*_args)
    assert len(_got) == 3 and all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(_got, _rgb)), (_args, _got)
