# `python -m shim [handler]`: what build/bootstrap starts.
from shim.runtime.main import main

main()
