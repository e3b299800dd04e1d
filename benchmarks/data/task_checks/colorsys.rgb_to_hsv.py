"""colorsys.rgb_to_hsv: Add a docstring that says the inputs and outputs are floats in [0, 1]."""

SETUP = ""

REFERENCE = '''def rgb_to_hsv(r, g, b):
    """Convert an RGB color to HSV.

    The inputs r, g and b and the returned h, s and v are all floats in [0, 1].
    """
    maxc = max(r, g, b)
    minc = min(r, g, b)
    rangec = (maxc-minc)
    v = maxc
    if minc == maxc:
        return 0.0, 0.0, v
    s = rangec / maxc
    rc = (maxc-r) / rangec
    gc = (maxc-g) / rangec
    bc = (maxc-b) / rangec
    if r == maxc:
        h = bc-gc
    elif g == maxc:
        h = 2.0+rc-bc
    else:
        h = 4.0+gc-rc
    h = (h/6.0) % 1.0
    return h, s, v
'''

import re

# the asked docstring: present, says floats, and gives the range 0..1 (any usual spelling)
_doc = FUNCTION.__doc__ or ""
assert re.search(r"float", _doc, re.I), _doc
assert re.search(r"[\[(]\s*0(\.0*)?\s*[,;]\s*1(\.0*)?\s*[\])]"
                 r"|\b0(\.0*)?\s*(and|to|-|–|\.\.\.?|through)\s*1(\.0*)?\b|unit interval"
                 r"|\b0(\.0*)?\s*<=?\s*[\w, ]+<=?\s*1", _doc, re.I), _doc
# ... and speaks of both sides: the inputs (r, g, b) and the outputs (h, s, v)
assert re.search(r"input|argument|param|\brgb\b|\br\b", _doc, re.I), _doc
assert re.search(r"output|return|result|\bhsv\b|\bh\b", _doc, re.I), _doc

# the conversion is kept
assert rgb_to_hsv(0, 0, 0) == (0.0, 0.0, 0)
assert rgb_to_hsv(1, 1, 1) == (0.0, 0.0, 1)
assert rgb_to_hsv(1, 0, 0) == (0.0, 1.0, 1)
assert rgb_to_hsv(0, 1, 0) == (0.3333333333333333, 1.0, 1)
assert rgb_to_hsv(0, 0, 1) == (0.6666666666666666, 1.0, 1)
assert rgb_to_hsv(0.2, 0.4, 0.4) == (0.5, 0.5, 0.4)
assert rgb_to_hsv(0.6, 0.2, 0.8) == (0.7777777777777778, 0.7500000000000001, 0.8)
assert rgb_to_hsv(1.0, 0.5, 0.0) == (0.08333333333333333, 1.0, 1.0)
assert rgb_to_hsv(0.5, 0.5, 0.2) == (0.16666666666666666, 0.6, 0.5)
