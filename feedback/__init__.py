"""Preference data from every proposal and verdict, kept safely.

The engine publishes events; :func:`attach` subscribes a :class:`Recorder`
that redacts and stores them in SQLite (``$XDG_DATA_HOME/amigo/feedback.db``).
``feedback.export`` turns the store into TRL datasets; ``feedback.cli`` is
``amigo feedback export|stats|purge|follow-up|push``; ``feedback.push`` sends
the team store (PostgreSQL, ``feedback.team``) what it lacks. This package
imports ``amigo`` only, never a front end, torch or the training package.
"""

from feedback.followup import FollowUpReport, follow_up
from feedback.recorder import Recorder, attach
from feedback.redact import redact
from feedback.settings import FeedbackSettings, db_path
from feedback.store import Store

__all__ = ["FeedbackSettings", "FollowUpReport", "Recorder", "Store", "attach", "db_path", "follow_up", "redact"]
