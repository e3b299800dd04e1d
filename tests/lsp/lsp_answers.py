"""The recorded model answer the LSP tests use, and the editor settings that point at it."""

from __future__ import annotations

ANSWER = '''I added a docstring.

users.py
<<<<<<< SEARCH
def oldest(users):
    return max(users, key=lambda u: u.age)
=======
def oldest(users):
    """The oldest user (the first one on a tie)."""
    return max(users, key=lambda u: u.age)
>>>>>>> REPLACE
'''


def options_for(model_url: str, **extra: object) -> dict[str, object]:
    return {"endpoint": model_url, "model": "recorded", "editFormat": "blocks", "decoding": "free",
            "contextBudget": 256, **extra}
