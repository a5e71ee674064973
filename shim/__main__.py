# `python -m shim [handler]`: what build/bootstrap starts.
from shim.runtime import main

main()
