"""``amigo tui``: the terminal front end, a thin Textual layer over :mod:`amigo.engine`."""
