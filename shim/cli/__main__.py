# `python -m shim.cli COMMAND ...`, the same as the `shim` console script.
import sys

from shim.cli import main

sys.exit(main())
