"""MkDocs hook: the CLI reference page is written from shim's own argument parsers at build time.

A page that holds the line `<!-- cli-reference -->` gets, in its place, one section per
`shim` command with its usage and options, as `shim COMMAND --help` prints them. So the
reference cannot drift from the parsers.
"""

import argparse
import importlib

MARKER = "<!-- cli-reference -->"


def render():
    from shim import cli

    parts = []
    for name, (module, help_text) in cli.COMMANDS.items():
        parser = argparse.ArgumentParser(
            prog="shim " + name,
            description=help_text,
            formatter_class=lambda prog: argparse.HelpFormatter(prog, width=100),
        )
        importlib.import_module(module).configure(parser)
        parts.append("## `shim %s`\n\n%s\n\n```text\n%s```\n" % (name, help_text, parser.format_help()))
    return "\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown
