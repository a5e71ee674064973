"""`make bench`'s report as text: the results table (medians with min–max, our ratio to awslambdaric), the
machine it was measured on, and the table written into docs/performance-history.md."""

import os
import platform
import time

from bench import OURS, ROOT, THEIRS


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import awslambdaric

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "awslambdaric": getattr(awslambdaric, "__version__", "?"),
        "date": time.strftime("%Y-%m-%d"),
    }


def table(report):
    lines = ["| metric | lambda-shim | awslambdaric | ratio (us/them) |", "|---|---|---|---|"]
    floor = report["floors_ms"]["python -I -c pass"]["median"]
    for name, by_runtime in report["metrics"].items():
        ours = by_runtime.get(OURS) or next(v for k, v in by_runtime.items() if k != THEIRS)
        theirs = by_runtime[THEIRS]
        if name.startswith("cold start"):
            name += "; floor `python -I -c pass`: %.1f" % floor
        lines.append("| %s | %s | %s | %.2f× |" % (name, _cell(ours), _cell(theirs), ours["median"] / theirs["median"]))
    for name, (ours, baseline, theirs) in report.get("streaming", {}).items():
        lines.append(
            "| %s | %s | cannot stream; baseline, %s: %s | %.2f× |"
            % (name, _cell(ours), baseline, _cell(theirs), ours["median"] / theirs["median"])
        )
    for row in deps_rows_lines(report):
        lines.append(row)
    for name, values in report.get("reference", {}).items():
        lines.append("| reference: %s | %s | | |" % (name, _cell(values)))
    for name, runs in report["soak"].items():
        samples = runs["rss_samples_kb"]
        growth = (samples[-1][1] - samples[1][1]) / 1024 if len(samples) > 1 else 0.0
        lines.append(
            "| soak %d invokes: RSS growth after warm-up (%s) | %.2f MB | | |" % (samples[-1][0], name, growth)
        )
    for name, values in report["floors_ms"].items():
        lines.append("| floor: `%s` (ms) | %s | | |" % (name, _cell(values)))
    return "\n".join(lines)


def deps_rows_lines(report):
    import deps_rows

    return [row + " | |" for row in deps_rows.lines(report.get("deps", {}))]


def _cell(values):
    fmt = "%.0f" if values["median"] >= 1000 else "%.2f" if values["median"] < 10 else "%.1f"
    return (fmt + " (" + fmt + "–" + fmt + ")") % (values["median"], values["min"], values["max"])


def update_readme(text):
    """The full table, between the perf markers of docs/performance-history.md (the README links to the docs)."""
    path = os.path.join(ROOT, "docs", "performance-history.md")
    with open(path) as f:
        readme = f.read()
    start, end = "<!-- perf:start -->", "<!-- perf:end -->"
    if start not in readme or end not in readme:
        return False
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + start + "\n" + text + "\n" + end + tail)
    return True
