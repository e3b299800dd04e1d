"""Amigo: a self-hosted coding assistant.

The core package: configuration, repository context, the prompt contract, the
model client, edit parsing/rendering, git-backed workspace and the edit engine.
It never imports a front end, the feedback package or torch.
"""

__version__ = "0.1.0"

# The name on PyPI. `amigo` there is an unrelated project from 2017, so the
# distribution is `amigo-code`; the command and the import names stay `amigo`.
DISTRIBUTION = "amigo-code"


def install_hint(extra: str = "") -> str:
    """The command that installs this package (with ``extra``), for every "not installed" message.

    One home for the distribution name, so no hint can send a person to the
    unrelated `amigo` project again.
    """
    spec = f"{DISTRIBUTION}[{extra}]" if extra else DISTRIBUTION
    return f"pip install '{spec}' (with pipx: pipx install --force '{spec}')"
