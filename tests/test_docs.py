"""Every example in the README and the docs site runs, from the installed `shim`, in a scratch folder.

A page is a script, read top to bottom:
- a fenced block with a title (```python title="orders/handler.py"```) is a file: it is written there;
- a `sh` block runs in bash (`set -euo pipefail`), a `python` block without a title runs with Python,
  both in the page's scratch folder, in order, so a later block sees what an earlier one made;
- a block right after `<!-- no-run: REASON -->` is not run, and the reason must be given;
- output samples are `text` blocks, data without a title (`toml`, `json`) is only shown.
"""

import glob
import os
import re
import signal
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = {"sh", "bash", "shell", "python", "py"}
SHOWN = {
    "text",
    "console",
    "",
    "toml",
    "json",
    "yaml",
    "ini",
    "make",
    "dockerfile",
    "html",
    "hcl",
    "typescript",
    "ts",
    "javascript",
    "js",
    "diff",
    "mermaid",
}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<info>.*)$")
NO_RUN = re.compile(r"<!--\s*no-run:\s*(?P<reason>.*?)\s*-->")


class Block:
    def __init__(self, page, line, lang, title, text, skip):
        self.page, self.line, self.lang, self.title, self.text, self.skip = page, line, lang, title, text, skip

    def __repr__(self):
        return "%s:%d (%s)" % (os.path.relpath(self.page, REPO), self.line, self.lang or "plain")


def blocks(page):
    """The fenced blocks of a Markdown page, with the no-run reason before each, if any."""
    with open(page, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    found, index, last_text = [], 0, ""
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            if lines[index].strip():
                last_text = lines[index]
            index += 1
            continue
        info, indent, fence = match.group("info"), len(match.group("indent")), match.group("fence")
        lang = info.split()[0].lower() if info.split() and "=" not in info.split()[0] else ""
        title = re.search(r'title="([^"]+)"', info)
        body, index = [], index + 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:] if lines[index][:indent].strip() == "" else lines[index])
            index += 1
        reason = NO_RUN.search(last_text)
        found.append(
            Block(
                page,
                index - len(body),
                lang,
                title.group(1) if title else None,
                "\n".join(body) + "\n",
                reason.group("reason") if reason else None,
            )
        )
        index += 1
        last_text = ""
    return found


PAGES = sorted(
    [os.path.join(REPO, "README.md")]
    + [
        p
        for p in glob.glob(os.path.join(REPO, "docs", "**", "*.md"), recursive=True)
        if os.sep + "hooks" + os.sep not in p
    ]
)


def runnable(page):
    return [b for b in blocks(page) if b.skip is None and (b.title or b.lang in RUN)]


def test_every_block_is_run_shown_or_skipped_with_a_reason():
    unknown, unexplained = [], []
    for page in PAGES:
        for block in blocks(page):
            if block.skip is not None and not block.skip:
                unexplained.append(block)
            if block.lang not in RUN | SHOWN:
                unknown.append(block)
    assert not unexplained, "no-run needs a reason: %s" % unexplained
    assert not unknown, "blocks in a language this test neither runs nor knows as shown-only: %s" % unknown


def test_the_parser_sees_titles_skips_and_indented_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        'Text\n\n```python title="a/b.py"\nX = 1\n```\n<!-- no-run: needs AWS -->\n```sh\naws s3 ls\n'
        "```\n- item\n\n    ```sh\n    echo hi\n    ```\n"
    )
    found = blocks(str(page))
    assert [(b.lang, b.title, b.skip, b.text) for b in found] == [
        ("python", "a/b.py", None, "X = 1\n"),
        ("sh", None, "needs AWS", "aws s3 ls\n"),
        ("sh", None, None, "echo hi\n"),
    ]


def _environment(scratch):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SHIM_", "AWS_"))}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["HOME"] = env.get("HOME", str(scratch))
    env["SHIM_CACHE_DIR"] = os.environ.get("SHIM_CACHE_DIR") or os.path.join(str(scratch), ".shim-cache")
    return env


def _run(command, cwd, env, timeout=60):
    """The block in a process group of its own, which is killed after it: a server it started in the
    background (and did not stop, having failed first) does not outlive it."""
    process = subprocess.Popen(
        command,
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out = b"(still running after %d s)" % timeout
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
    return subprocess.CompletedProcess(command, process.returncode, out)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if runnable(p)], ids=lambda p: os.path.relpath(p, REPO))
def test_the_examples_of_a_page_run(page, tmp_path):
    scratch = tmp_path / "work"
    scratch.mkdir()
    env = _environment(tmp_path)
    for block in runnable(page):
        if block.title:
            target = scratch / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
            continue
        if block.lang in ("python", "py"):
            command = [sys.executable, "-c", block.text]
        else:
            command = ["bash", "-c", "set -euo pipefail\n" + block.text]
        done = _run(command, scratch, env)
        assert done.returncode == 0, "%r failed (exit %d):\n%s\n--- output ---\n%s" % (
            block,
            done.returncode,
            block.text,
            done.stdout.decode("utf-8", "replace")[-4000:],
        )
