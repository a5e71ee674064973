"""`python -X importtime` output (PYTHONPROFILEIMPORTTIME=1) as a tree of imports.

The interpreter writes one line to stderr, straight from C, as each module finishes loading:

    import time: self [us] | cumulative | imported package
    import time:       412 |       1733 |   botocore.session

The name's indentation is its depth; a module's line comes after the lines of the modules it
imported (post-order). `self` is the module's own loading and top-level code, `cumulative` adds
what its imports cost. Only modules that were not loaded yet appear: an import of a module
already in sys.modules costs (nearly) nothing and has no line.
"""

import re

PREFIX = "import time:"
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S.*?)\s*$")


class Node:
    """One import (or a phase of the cold start): times in ms, children in the order they loaded."""

    def __init__(self, name, self_ms=0.0, total_ms=0.0, children=None, kind="import"):
        self.name = name
        self.self_ms = self_ms
        self.total_ms = total_ms
        self.children = list(children or [])
        self.kind = kind

    def walk(self, depth=0):
        yield self, depth
        for child in self.children:
            yield from child.walk(depth + 1)

    def find(self, name):
        return next((node for node, _ in self.walk() if node.name == name), None)

    def as_dict(self):
        return {
            "name": self.name,
            "self_ms": round(self.self_ms, 3),
            "total_ms": round(self.total_ms, 3),
            "kind": self.kind,
            "children": [child.as_dict() for child in self.children],
        }

    def __repr__(self):
        return "<Node %s self %.2f ms, total %.2f ms, %d children>" % (
            self.name,
            self.self_ms,
            self.total_ms,
            len(self.children),
        )


def is_importtime(line):
    return line.startswith(PREFIX)


def split(text):
    """(the importtime lines, everything else) of some stderr or log text."""
    ours, rest = [], []
    for line in text.splitlines(True):
        (ours if line.startswith(PREFIX) else rest).append(line)
    return ours, "".join(rest)


def parse(lines):
    """The top-level imports (Nodes with their subtrees) in the order they finished loading."""
    pending = {}  # depth -> finished nodes waiting for their parent's line
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if not match:
            continue  # the header, or a line cut by other output
        self_us, total_us, indent, name = match.groups()
        depth = (len(indent) - 1) // 2
        node = Node(name, int(self_us) / 1000.0, int(total_us) / 1000.0, pending.pop(depth + 1, []))
        # Deeper nodes left over (their parent's line lost) go to this node rather than nowhere.
        for deeper in sorted(d for d in pending if d > depth):
            node.children.extend(pending.pop(deeper))
        pending.setdefault(depth, []).append(node)
    roots = []
    for depth in sorted(pending):
        roots.extend(pending[depth])
    return roots
