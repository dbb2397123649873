"""Caching of node results across runs, drivers and processes (``Builder.with_cache``).

Internal: users reach it through ``Builder.with_cache(...)``, ``@cache(...)`` and
``dr.cache``. ``events`` names behaviors and events, ``fingerprint`` versions code and data,
``store`` keeps metadata (SQLite) and results (SQLite or files), ``adapter`` decides per node
call, ``blocks`` reads a whole block back in one lookup (``items`` feeds it the items),
``shipped`` decides for branches shipped to worker processes, ``batches`` gathers store work
into one thread hop.
"""
