"""A cold start's profile as one self-contained HTML page: an icicle chart and the import tree.

Time runs left to right; the top bar is the whole cold start, the row below it its phases
(Python start, the runtime, the handler module's import, the first invoke), and every row
under a bar shows what it imported, in the order it loaded. A bar's width is its cumulative
time; the room it leaves uncovered below it is its own (self) time. Hovering a bar shows its
figures (an SVG <title>). Below the chart, the same tree as a table that folds.

No script, style sheet or font comes from anywhere else: the file opens offline, in a mail,
in a CI artifact.
"""

import hashlib
import html

WIDTH = 1200  # px of the chart
ROW = 22  # px per row
MIN_LABEL = 36  # px: narrower bars carry no text (their title still shows on hover)
CHAR = 6.6  # px per character at the label's size, for cutting labels to fit
_HUES = {"python": 215, "runtime": 172, "handler": 28, "invoke": 265}
_PHASE_COLOURS = {
    "root": "#4b5563",
    "python": "#64748b",
    "runtime": "#0f766e",
    "handler": "#b45309",
    "invoke": "#6d28d9",
}


def render(profile, title=None, notes=(), findings=""):
    """The page (a str) for a shim.local.profiler.Profile; notes: lines for its head; findings: text shown
    after the summary (the unused modules of `shim profile --events`)."""
    tree = profile.tree
    title = title or "Cold start of %s" % profile.handler
    bars = []
    depth = _layout(tree, 0.0, 0, WIDTH / max(tree.total_ms, 1e-9), None, bars)
    height = (depth + 1) * ROW
    svg = [
        '<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" '
        'aria-label="icicle chart of the cold start">' % (WIDTH, height, WIDTH, height)
    ]
    for x, y, w, node, colour in bars:
        label = "%s %s" % (node.name, _ms(node.total_ms))
        tip = "%s\ncumulative %s (%.1f%% of the cold start)\nself %s" % (
            node.name,
            _ms(node.total_ms),
            100.0 * node.total_ms / max(tree.total_ms, 1e-9),
            _ms(node.self_ms),
        )
        svg.append(
            '<g><title>%s</title><rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2" fill="%s"/>'
            % (html.escape(tip), x, y, max(w - 1, 0.5), ROW - 2, colour)
        )
        if w >= MIN_LABEL:
            text = _fit(label, w - 8)
            svg.append('<text x="%.2f" y="%d">%s</text>' % (x + 4, y + ROW - 8, html.escape(text)))
        svg.append("</g>")
    svg.append("</svg>")
    axis = _axis(tree.total_ms)
    head = "".join("<p>%s</p>" % html.escape(line) for line in notes)
    summary = html.escape(profile.summary() + ("\n\n" + findings if findings else ""))
    rows = "".join(_tree_rows(tree, tree.total_ms))
    return _PAGE % {
        "title": html.escape(title),
        "head": head,
        "svg": "\n".join(svg),
        "axis": axis,
        "summary": summary,
        "rows": rows,
        "legend": _legend(),
    }


def _layout(node, x, depth, scale, hue, bars):
    """Place node and its subtree; the deepest row used."""
    hue = _HUES.get(node.kind, hue)
    colour = _colour(node, depth, hue)
    width = node.total_ms * scale
    bars.append((x, depth * ROW, width, node, colour))
    deepest = depth
    at = x
    for child in node.children:
        if child.total_ms * scale >= 0.5:
            deepest = max(deepest, _layout(child, at, depth + 1, scale, hue, bars))
        at += child.total_ms * scale
    return deepest


def _colour(node, depth, hue):
    """A phase in its own colour; what it imported in shades of it, each top-level package a hue of its own
    near the phase's (the same name gets the same colour in every profile), paler as it goes deeper."""
    if depth <= 1 and node.kind in _PHASE_COLOURS:
        return _PHASE_COLOURS[node.kind]
    if hue is None:
        return "#6b7280"
    shift = int(hashlib.sha1(node.name.split(".")[0].encode()).hexdigest()[:4], 16) % 29 - 14
    return "hsl(%d, 58%%, %d%%)" % ((hue + shift) % 360, min(74, 44 + 5 * (depth - 2)))


def _fit(text, room):
    chars = int(room / CHAR)
    return text if len(text) <= chars else (text[: max(chars - 1, 1)] + "…")


def _ms(value):
    return "%.0f ms" % value if value >= 10 else "%.1f ms" % value if value >= 0.1 else "%.2f ms" % value


def _axis(total_ms):
    step = _nice_step(total_ms / 8)
    marks, at = [], 0.0
    while at <= total_ms + 1e-9:
        left = 100.0 * at / max(total_ms, 1e-9)
        marks.append('<span style="left:%.3f%%">%s</span>' % (left, _ms(at)))
        at += step
    return "".join(marks)


def _nice_step(raw):
    for unit in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if unit >= raw:
            return unit
    return 10000


def _legend():
    names = (
        ("python", "Python start"),
        ("runtime", "lambda-shim runtime"),
        ("handler", "your handler module"),
        ("invoke", "first invoke"),
    )
    return "".join(
        '<span><i style="background:%s"></i>%s</span>' % (_PHASE_COLOURS[kind], label) for kind, label in names
    )


def _tree_rows(node, total, depth=0):
    share = 100.0 * node.total_ms / max(total, 1e-9)
    row = (
        '<tr class="d%d"><td style="padding-left:%dpx">%s</td><td>%s</td><td>%s</td><td>'
        '<b style="width:%.1f%%"></b>%.1f%%</td></tr>'
        % (min(depth, 3), 8 + 16 * depth, html.escape(node.name), _ms(node.self_ms), _ms(node.total_ms), share, share)
    )
    yield row
    for child in sorted(node.children, key=lambda c: -c.total_ms) if depth >= 1 else node.children:
        if child.total_ms >= 0.001 * total or depth < 1:
            yield from _tree_rows(child, total, depth + 1)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>%(title)s</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #111827; }
h1 { font-size: 20px; margin: 0 0 4px; }
p { margin: 2px 0; color: #374151; }
.chart { position: relative; width: %(width)dpx; margin-top: 16px; }
svg text { font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; fill: #fff; pointer-events: none; }
svg rect:hover { stroke: #111827; stroke-width: 1.5; }
.axis { position: relative; height: 18px; border-top: 1px solid #9ca3af; font-size: 11px; color: #6b7280; }
.axis span { position: absolute; transform: translateX(-50%%); top: 2px; }
.legend span { margin-right: 16px; font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 5px; border-radius: 2px; }
pre { background: #f3f4f6; padding: 12px; border-radius: 6px; font-size: 12.5px; overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; margin-top: 8px; }
td { padding: 2px 10px; border-bottom: 1px solid #e5e7eb; white-space: nowrap; }
td:nth-child(2), td:nth-child(3) { text-align: right; font-variant-numeric: tabular-nums; }
td b { display: inline-block; height: 8px; background: #f59e0b; margin-right: 6px; vertical-align: middle; }
th { text-align: left; padding: 2px 10px; border-bottom: 2px solid #9ca3af; }
tr.d0, tr.d1 { font-weight: 600; }
</style></head>
<body>
<h1>%(title)s</h1>
%(head)s
<div class="legend">%(legend)s</div>
<div class="chart">
%(svg)s
<div class="axis">%(axis)s</div>
</div>
<h2 style="font-size:16px">Summary</h2>
<pre>%(summary)s</pre>
<h2 style="font-size:16px">The tree</h2>
<p>self: the module's own loading and top-level code; cumulative: with what it imported. Modules already
loaded by then (by the runtime, or an earlier import) cost nothing and are not listed.</p>
<table><tr><th>what</th><th>self</th><th>cumulative</th><th>share of the cold start</th></tr>
%(rows)s
</table>
</body></html>
"""
_PAGE = _PAGE.replace("%(width)dpx", "%dpx" % WIDTH)
