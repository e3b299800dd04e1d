"""Amigo's language server: editors reach the engine through LSP (pygls 2.x).

The server is a thin layer over :class:`amigo.engine.EditSession`: it edits
what the editor holds (unsaved buffers), streams generation progress, and
hands proposals to the editor as versioned ``workspace/applyEdit`` requests.
"""

__version__ = "0.1.0"
