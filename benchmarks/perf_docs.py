"""docs/performance.md's measured part and its charts, from a `make bench` report.

The table goes between `<!-- bench:start -->` and `<!-- bench:end -->` in docs/performance.md
(the prose around it is written by hand); the cold-start rows are drawn as two SVG bar charts,
docs/img/coldstart-instructions.svg and docs/img/coldstart-wall.svg: plain hand-written SVG,
no script, no external font.
"""

import html
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOC = os.path.join(ROOT, "docs", "performance.md")
IMG = os.path.join(ROOT, "docs", "img")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
OURS, THEIRS = "lambda-shim", "awslambdaric"
COLOURS = {OURS: "#0f766e", OURS + " --optimize 2": "#5eead4", THEIRS: "#9ca3af"}


def update(report, header, table):
    """Rewrite the generated part of docs/performance.md and the charts; a line saying what was written."""
    written = []
    charts = [
        (
            "coldstart-instructions.svg",
            "instructions to the first /next",
            "M instructions, exec to first /next",
            "%.0f",
        ),
        ("coldstart-wall.svg", "cold start, ", "ms, exec to first /next (median)", "%.1f"),
    ]
    os.makedirs(IMG, exist_ok=True)
    for filename, prefix, unit, fmt in charts:
        groups = _groups(report["metrics"], prefix)
        if groups:
            with open(os.path.join(IMG, filename), "w") as handle:
                handle.write(bar_chart(groups, unit, fmt))
            written.append("docs/img/" + filename)
    if os.path.exists(DOC):
        with open(DOC) as handle:
            text = handle.read()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            images = "".join(
                "\n![%s](img/%s)\n" % (name[:-4].replace("-", " "), name)
                for name in ("coldstart-instructions.svg", "coldstart-wall.svg")
                if "docs/img/" + name in written
            )
            with open(DOC, "w") as handle:
                handle.write(head + START + "\n" + header + "\n\n" + table + "\n" + images + END + tail)
            written.append("docs/performance.md")
    return "written: " + (", ".join(written) or "nothing (no cold-start rows, or no markers in docs/performance.md)")


def _groups(metrics, prefix):
    """[(label, {series: value})] for the rows whose names start with prefix; -OO rows join their function's."""
    groups = {}
    for name, by_runtime in metrics.items():
        if not name.startswith(prefix) or "(M)" not in name and "(ms)" not in name:
            continue
        if "floor" in name or "handler imports" in name or "plugin" in name or "orjson" in name:
            continue
        label = name[len(prefix) :].strip(" ,")
        for cut in (" (M)", " (ms)", ", median of 7", ", median of"):
            label = label.split(cut)[0]
        optimized = ", ours packed --optimize 2" in label
        label = label.replace(", ours packed --optimize 2", "")
        group = groups.setdefault(label, {})
        if optimized:
            group[OURS + " --optimize 2"] = by_runtime[OURS]["median"]
        else:
            group[OURS] = by_runtime[OURS]["median"]
            group[THEIRS] = by_runtime[THEIRS]["median"]
    return [(label, values) for label, values in groups.items() if OURS in values and THEIRS in values]


def bar_chart(groups, unit, fmt, width=760):
    """Horizontal grouped bars, one group per function, as an SVG document (a str)."""
    series = [name for name in COLOURS if any(name in values for _, values in groups)]
    top = max(value for _, values in groups for value in values.values()) or 1.0
    label_w, bar_h, gap, pad = 300, 14, 12, 8
    plot_w = width - label_w - 70
    y = 50
    parts = []
    for label, values in groups:
        shown = [name for name in series if name in values]
        block = len(shown) * bar_h
        parts.append(
            '<text x="%d" y="%.1f" text-anchor="end" class="l">%s</text>'
            % (label_w - pad, y + block / 2 + 4, html.escape(_short(label)))
        )
        for index, name in enumerate(shown):
            value = values[name]
            w = max(plot_w * value / top, 1)
            ratio = "" if name == THEIRS else " (%.2f×)" % (value / values[THEIRS]) if values[THEIRS] else ""
            parts.append(
                '<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s %s</title></rect>'
                % (
                    label_w,
                    y + index * bar_h,
                    w,
                    bar_h - 2,
                    COLOURS[name],
                    html.escape(name),
                    fmt % value,
                    html.escape(unit),
                )
            )
            parts.append(
                '<text x="%.1f" y="%d" class="v">%s%s</text>'
                % (label_w + w + 4, y + index * bar_h + bar_h - 4, fmt % value, ratio)
            )
        y += block + gap
    legend = "".join(
        '<rect x="%d" y="26" width="10" height="10" fill="%s"/><text x="%d" y="35" class="v">%s</text>'
        % (label_w + i * 150, COLOURS[name], label_w + i * 150 + 14, html.escape(name))
        for i, name in enumerate(series)
    )
    height = y + 10
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">\n'
        "<style>text{font:12px sans-serif;fill:#111827}.v{font-size:11px}.l{font-size:12px}</style>\n"
        '<rect width="100%%" height="100%%" fill="#fff"/>\n'
        '<text x="8" y="17" class="v">%s</text>\n%s\n%s\n</svg>\n'
        % (width, height, width, height, html.escape(unit), legend, "\n".join(parts))
    )


def _short(label):
    return label.replace("small function, ", "small function ").replace(" instead", "")
