"""Amigo: a self-hosted coding assistant.

The core package: configuration, repository context, the prompt contract, the
model client, edit parsing/rendering, git-backed workspace and the edit engine.
It never imports a front end, the feedback package or torch.
"""

__version__ = "0.1.0"
