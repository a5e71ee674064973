"""UsageError: bad input from a developer, to the packer or the local tools (which import it from here).

The CLI prints it as one line, with exit status 2. It is not in the zip: the runtime never raises it.
"""


class UsageError(Exception):
    """Bad input from a developer (packer, local tools): the CLI prints it as one line, exit status 2."""
