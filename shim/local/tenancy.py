"""`shim serve --tenant-isolation`: execution environments dedicated to one tenant each.

A function with Lambda's tenant isolation mode (TenancyConfig PER_TENANT) must be invoked with a
tenant id (the Invoke API's X-Amz-Tenant-Id). Lambda runs each invoke in an execution environment
of that tenant: it finds one that is free, or starts a new one (a cold start), and never hands an
environment to another tenant. TenantPool does the same in front of the Invoke API, with up to
`per_tenant` environments per tenant; each runtime gets the id as Lambda-Runtime-Aws-Tenant-Id.
"""

import threading

from shim.local.invoke_api import Pool


class TenantPool:
    """A Pool of Functions for each tenant, made on the tenant's first invoke by make_function()."""

    # What the Invoke API answers to an invoke without a tenant id (400 InvalidParameterValueException).
    requires_tenant = "this function has tenant isolation: every invoke needs a tenant id (X-Amz-Tenant-Id)"

    def __init__(self, make_function, per_tenant=1):
        self.make_function = make_function
        self.per_tenant = per_tenant
        self.tenants = {}  # tenant id -> Pool
        self._lock = threading.Lock()
        self._closed = False

    @property
    def functions(self):
        with self._lock:
            return [fn for pool in self.tenants.values() for fn in pool.functions]

    def start(self):
        """Nothing to start before the first tenant's invoke (Lambda starts a tenant's environment then)."""

    def pool_of(self, tenant_id):
        if not tenant_id:
            raise ValueError(self.requires_tenant)
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool was closed")
            pool = self.tenants.get(tenant_id)
            if pool is None:
                pool = self.tenants[tenant_id] = Pool(self.make_function() for _ in range(self.per_tenant))
            return pool

    def invoke(self, event, tenant_id=None, **options):
        return self.pool_of(tenant_id).invoke(event, tenant_id=tenant_id, **options)

    def close(self):
        with self._lock:
            self._closed = True
            pools = list(self.tenants.values())
        for pool in pools:
            pool.close()
