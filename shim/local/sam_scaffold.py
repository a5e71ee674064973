"""`shim new DIR --sam`: a SAM template and a Makefile beside the function, so `sam build` packs with shim.

    DIR/template.yaml   one AWS::Serverless::Function, CodeUri: . , Metadata: BuildMethod: makefile
    DIR/Makefile        build-<LogicalId>: `shim pack . --extract-to $(ARTIFACTS_DIR)`

`sam build` copies DIR to a scratch folder (leaving out .aws-sam and .git) and
runs `make build-<LogicalId>` there with ARTIFACTS_DIR set; the shim on PATH packs
the function and unpacks the zip into ARTIFACTS_DIR with its modes (bootstrap
0755) and its bytecode. The function runs the classic way: the managed runtime
python3.X with the bootstrap as its exec wrapper, the same settings `shim deploy`
uses by default. The Python version and architecture are this interpreter's and
this machine's, written into both files so they agree.

`Runtime: custom` with RuntimeConfig (a customer-managed runtime) is left out:
the SAM translator and cfn-lint on PyPI do not accept it yet (docs/guides/deploying.md).
"""

import os
import re
import sys

from shim.pack.errors import UsageError

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: @NAME@, a Python function run by lambda-shim; `sam build` packs it with `shim pack` (see Makefile).

Resources:
  @ID@:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile        # sam build runs `make build-@ID@` (Makefile) into $(ARTIFACTS_DIR)
    Properties:
      CodeUri: .
      Handler: handler.Handle
      Runtime: python@PYTHON@          # the managed runtime starts lambda-shim's bootstrap as its exec wrapper
      Architectures:
        - @ARCH@
      MemorySize: 128
      Timeout: 3
      Environment:
        Variables:
          AWS_LAMBDA_EXEC_WRAPPER: /var/task/bootstrap

Outputs:
  @ID@Arn:
    Description: The function's ARN
    Value: !GetAtt @ID@.Arn
"""

MAKEFILE = """\
# `sam build` runs `make build-@ID@` in a copy of this folder, with ARTIFACTS_DIR set.
# shim pack builds the deployment zip (bootstrap, the runtime, your code, requirements.txt
# installed for Lambda, bytecode for CPython @PYTHON@) and unpacks it there with its modes.
# The Python version and architecture match template.yaml: change both together.
SHIM ?= shim

build-@ID@:
\t$(SHIM) pack . --handler handler.Handle --python-version @PYTHON@ --arch @ARCH@@GLIBC@ --quiet \\
\t\t--exclude template.yaml --exclude Makefile --exclude samconfig.toml --exclude '*.zip' \\
\t\t--extract-to "$(ARTIFACTS_DIR)"
"""

FILES = (("template.yaml", TEMPLATE), ("Makefile", MAKEFILE))


def logical_id(directory):
    """The template's logical ID for the function: the folder's name in CamelCase, then Function."""
    words = re.split(r"[^A-Za-z0-9]+", os.path.basename(os.path.abspath(str(directory))))
    name = "".join(word[:1].upper() + word[1:] for word in words if word)
    if not name or not name[0].isalpha():
        name = "Lambda" + name
    return name + "Function"


def paths(directory):
    return [os.path.join(str(directory), rel) for rel, _ in FILES]


def check(directory):
    """UsageError if template.yaml or Makefile is there already (call before writing anything)."""
    for path in paths(directory):
        if os.path.lexists(path):
            raise UsageError("%s already exists: shim new writes only new files, so nothing was written" % path)


def create(directory, python=None, arch=None):
    """Write template.yaml and the Makefile into directory; the paths written."""
    from shim.pack import checks

    python = checks.check_python_version(python or "%d.%d" % sys.version_info[:2])
    arch = arch or checks.default_arch()
    values = {
        "@ID@": logical_id(directory),
        "@NAME@": os.path.basename(os.path.abspath(str(directory))),
        "@PYTHON@": python,
        "@ARCH@": arch,
        # python3.9-3.11 run on Amazon Linux 2: its glibc for the wheels (shim deploy does the same)
        "@GLIBC@": " --glibc 2.26" if python in ("3.9", "3.10", "3.11") else "",
    }
    check(directory)
    written = []
    for (rel, text), path in zip(FILES, paths(directory)):
        for key, value in values.items():
            text = text.replace(key, value)
        try:
            with open(path, "x", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (path, exc.strerror or exc)) from None
        written.append(path)
    return written
