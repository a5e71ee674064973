"""The packer: a function directory in, a deployable zip (or a runtime layer) out.

packer is the entry point (pack()); the steps live beside it: functiondir (the
user's files), vendor (the runtime and its dependencies), pipinstall
(requirements.txt for Lambda's platform), bytecode (.pyc for the target
interpreter), ziputil (reproducible zips, and extracting them as Lambda does).
It imports from the runtime only what it needs to check a handler name.
"""
