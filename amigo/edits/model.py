"""The data types of ``amigo.edits`` (kept apart so every submodule can share them)."""

from __future__ import annotations

from dataclasses import dataclass

from amigo.errors import AmigoError


@dataclass(frozen=True)
class EditBlock:
    """One SEARCH/REPLACE block as the model wrote it.

    ``search`` and ``replace`` keep the answer's own line endings; every line
    ends with a newline. ``index`` is the block's 0-based position among all
    blocks of the answer (malformed ones included, so messages can count).
    ``eol`` is None normally; render() sets it (via ``(newline at end of
    file)`` / ``(no newline at end of file)`` after ``REPLACE``) only when the
    edit adds or removes the file's final newline.
    """

    path: str | None
    search: str
    replace: str
    index: int
    eol: bool | None = None


@dataclass(frozen=True)
class ParsedAnswer:
    """Blocks, the prose around them, and malformed/unterminated block syntax."""

    blocks: tuple[EditBlock, ...]
    prose: str
    errors: tuple[str, ...]


@dataclass(frozen=True)
class AppliedAnswer:
    """The result of applying a whole answer.

    ``new_texts`` maps each changed or created path to its new text (empty when
    anything failed and partial application was not asked for); ``tiers`` has
    the matching tier of every applied block, in order.
    """

    new_texts: dict[str, str]
    prose: str
    tiers: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.new_texts)


class EditError(AmigoError):
    """A block (or whole answer) that cannot be applied; the message says which and why.

    ``block_index`` is 0-based (messages count from 1); ``closest`` holds the
    file lines most like the SEARCH text, numbered, when there are any.
    """

    def __init__(
        self,
        message: str,
        block_index: int | None = None,
        path: str | None = None,
        closest: str | None = None,
    ) -> None:
        super().__init__(message)
        self.block_index = block_index
        self.path = path
        self.closest = closest
