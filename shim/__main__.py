# `python -m shim [handler]`: the runtime by hand (the launcher, shim/runtime/bootstrap, imports shim.runtime.main).
from shim.runtime.main import main

main()
