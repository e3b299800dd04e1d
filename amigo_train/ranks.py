"""Ranks under ``accelerate launch``: which process writes files, and the barriers they meet at."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any


# Ranks meet at barriers while the main process prepares a stage's data (tokenizing and decontaminating the
# full recipe's sets takes hours), so the process group waits that long instead of torch's 30-minute default.
BARRIER_TIMEOUT = timedelta(hours=6)


def is_main_process() -> bool:
    """Rank 0 under ``accelerate launch`` (or a plain single process): the one that writes files."""
    return os.environ.get("RANK", "0") == "0"


def distributed() -> Any:
    """accelerate's process state: the barriers ranks wait at (``main_process_first``, ``wait_for_everyone``).

    In a plain single process these are no-ops. The first call sets up the process group (with
    :data:`BARRIER_TIMEOUT`); the trainer's Accelerator later shares it."""
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available()  # as the training arguments say (use_cpu): gloo between CPU processes
    if os.environ.get("WORLD_SIZE", "1") == "1":
        return PartialState(cpu=cpu)
    return PartialState(cpu=cpu, timeout=BARRIER_TIMEOUT)
