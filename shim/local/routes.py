"""`shim serve` for a whole project: which pool of environments answers which request.

The Invoke API path names the function (`/2015-03-31/functions/orders/invocations`):
its name in the project file, or its Lambda function name (function_name), or an
ARN ending in either. A name not served gets the Invoke API's 404
ResourceNotFoundException. A function with `function_url = true` answers every
method on the prefix `/<name>/...` as its Function URL: the event's rawPath is the
part after the prefix (`/orders/items?id=1` reaches `orders` as `/items`), as the
function would see it on a URL of its own.
"""

import threading


class Routes:
    """Pools by function name, and the Function URL prefixes; the interface invoke_api.Server reads."""

    def __init__(self):
        self.pools = {}  # name -> Pool, in the order added
        self.names = {}  # every name a pool answers to -> its main name
        self.urls = {}  # URL prefix ("/orders") -> Pool

    def add(self, name, pool, aliases=(), url=False):
        self.pools[name] = pool
        for alias in (name,) + tuple(aliases):
            self.names[alias] = name
        if url:
            self.urls["/" + name] = pool

    def slot(self, name):
        """An object whose `.pool` is the pool serving `name`, read and replaced (shim.local.watch redeploys)."""
        return _Slot(self, name)

    @property
    def functions(self):
        return [fn for pool in self.pools.values() for fn in pool.functions]

    def for_name(self, name):
        """The Pool serving the function `name` (a name, or an ARN whose function part is one), or None."""
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        main = self.names.get(name)
        return self.pools[main] if main is not None else None

    def for_url(self, target):
        """(Pool, the request target with its prefix taken off) for a Function URL request, or None."""
        path, sep, query = target.partition("?")
        for prefix, pool in self.urls.items():
            if path == prefix or path.startswith(prefix + "/"):
                return pool, (path[len(prefix) :] or "/") + sep + query
        return None

    def start(self):
        _each(self.pools.values(), "start")

    def close(self):
        _each(self.pools.values(), "close")


class _Slot:
    def __init__(self, routes, name):
        self.routes, self.name = routes, name

    @property
    def pool(self):
        return self.routes.pools[self.name]

    @pool.setter
    def pool(self, pool):
        old = self.routes.pools[self.name]
        self.routes.pools[self.name] = pool
        for prefix, served in list(self.routes.urls.items()):
            if served is old:
                self.routes.urls[prefix] = pool


def _each(pools, method):
    threads = [threading.Thread(target=getattr(pool, method), daemon=True) for pool in pools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
