"""The repository's files as a tree, filled lazily so a 10k-file repository opens at once."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from amigo_tui.repo_files import build_tree


class FileTree(Tree[str]):
    """Folders expand on demand; choosing a file posts :class:`FileTree.FileChosen`."""

    class FileChosen(Message):
        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(label, data="", **kwargs)
        self._folders: dict[str, dict] = {}
        self.guide_depth = 2
        self.show_root = False

    def set_paths(self, paths: list[str]) -> None:
        """Replace the tree's content (only the top level is built now)."""
        nested = build_tree(paths)
        self._folders = {"": nested}
        self.clear()
        self._fill(self.root, "")
        self.root.expand()

    def _fill(self, node: TreeNode[str], folder: str) -> None:
        entries = self._folders.get(folder, {})
        dirs = sorted(name for name, child in entries.items() if isinstance(child, dict))
        files = sorted(name for name, child in entries.items() if child is None)
        for name in dirs:
            path = f"{folder}{name}/"
            self._folders[path] = entries[name]
            node.add(name + "/", data=path)
        for name in files:
            node.add_leaf(name, data=f"{folder}{name}")

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        node = event.node
        if node.data and node.data.endswith("/") and not node.children:
            self._fill(node, node.data)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        if data and not data.endswith("/"):
            event.stop()
            self.post_message(self.FileChosen(data))

    def reveal(self, path: str) -> None:
        """Expand the folders down to ``path`` and move the cursor onto it."""
        node = self.root
        parts = path.split("/")
        for depth, part in enumerate(parts):
            want = "/".join(parts[: depth + 1]) + ("/" if depth < len(parts) - 1 else "")
            if node.data and node.data.endswith("/") and not node.children:
                self._fill(node, node.data)
            match = next((child for child in node.children if child.data == want), None)
            if match is None:
                return
            node.expand()
            node = match
        self.call_after_refresh(self.move_cursor, node)
