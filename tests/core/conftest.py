"""The core (the ``amigo`` package): its test modules share data (recorded answers, tricky texts) by import."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: make sibling modules importable
