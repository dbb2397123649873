"""Caching of node results across runs, drivers and processes (``Builder.with_cache``).

Internal: users reach it through ``Builder.with_cache(...)``, ``@cache(...)`` and
``dr.cache``. ``fingerprint`` versions code and data, ``store`` keeps metadata (SQLite) and
results (files), ``adapter`` decides per node call, ``shipped`` does it for branches shipped
to worker processes.
"""
