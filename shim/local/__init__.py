"""The local tools: run a function on this machine the way Lambda runs it.

emulator     a Lambda Runtime API on 127.0.0.1 that records every request
environment  one execution environment: the real bootstrap as a subprocess, with its emulator
function     a function as Lambda runs it: cold and warm starts, timeouts, START/END/REPORT
invoke_api   Lambda's Invoke API in front of a pool of environments (`shim serve`)
scaffold     `shim new`: a function folder with a handler, a test and a README
pytest_plugin, demo
"""
