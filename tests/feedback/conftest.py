"""The feedback suite's fixtures live in feedback_helpers, which the tests import too."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from feedback_helpers import bus, data_home, make, repo, settings  # noqa: E402,F401
from postgres_server import pg_server, team_url  # noqa: E402,F401
