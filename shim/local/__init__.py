"""The local tools: run a function on this machine the way Lambda runs it.

emulator     a Lambda Runtime API on 127.0.0.1 that records every request
environment  one execution environment: the real bootstrap as a subprocess, with its emulator
function     a function as Lambda runs it: cold and warm starts, timeouts, START/END/REPORT
result       what an invoke gave (InvokeResult) and its log records
taskroot     a directory or zip as a task root (packed, unpacked read-only, or in place)
layers       layer zips merged into a stand-in /opt; what a zip was packed for
project      the project file ([tool.lambda-shim] in pyproject.toml) and FunctionConfig
projectfile  `shim new` adding its function to the project file
runconfig    a FunctionConfig as a local run needs it: its variables (envfile) and interpreter
hints        lines that help where users get stuck (boto3, another target, no runtime in a zip)
invoke_api   Lambda's Invoke API in front of a pool of environments (`shim serve`); routes: a project's
scaffold     `shim new`: a function folder with a handler, a test and a README
pytest_plugin, demo
"""
