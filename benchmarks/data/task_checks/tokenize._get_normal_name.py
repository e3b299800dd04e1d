"""tokenize._get_normal_name: Also normalize 'utf8' (without the dash) to 'utf-8'."""

SETUP = ""

REFERENCE = '''def _get_normal_name(orig_enc):
    """Imitates get_normal_name in tokenizer.c."""
    # Only care about the first 12 characters.
    enc = orig_enc[:12].lower().replace("_", "-")
    if enc in ("utf-8", "utf8") or enc.startswith("utf-8-"):
        return "utf-8"
    if enc in ("latin-1", "iso-8859-1", "iso-latin-1") or \\
       enc.startswith(("latin-1-", "iso-8859-1-", "iso-latin-1-")):
        return "iso-8859-1"
    return orig_enc
'''

# the asked change: utf8, in any case, is normalized to utf-8
assert _get_normal_name("utf8") == "utf-8"
assert _get_normal_name("UTF8") == "utf-8"
assert _get_normal_name("Utf8") == "utf-8"

# the other normalizations, and the names left alone, are kept
for _enc, _want in [("utf-8", "utf-8"), ("UTF-8", "utf-8"), ("utf_8", "utf-8"), ("utf-8-sig", "utf-8"),
                    ("utf-8-unix", "utf-8"), ("latin-1", "iso-8859-1"), ("ISO_8859_1", "iso-8859-1"),
                    ("iso-latin-1-unix", "iso-8859-1"), ("latin-1-x", "iso-8859-1"), ("ascii", "ascii"),
                    ("ASCII", "ASCII"), ("cp1252", "cp1252"), ("utf-16", "utf-16"), ("euc-jp", "euc-jp"),
                    ("utf-8xxxxxxxxxx", "utf-8xxxxxxxxxx"), ("", "")]:
    assert _get_normal_name(_enc) == _want, (_enc, _get_normal_name(_enc))
