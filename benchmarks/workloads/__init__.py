"""The benchmark workloads: Hamilton modules as files, ported to asyncdag, and generated DAGs.

Files here are written as a Hamilton user writes them (``from hamilton.htypes import ...``);
``port`` loads one with ``hamilton`` replaced by ``asyncdag``, the porting path the README
documents. Files whose name ends in ``_async`` use ``async def`` nodes, which only asyncdag
(and Hamilton's ``AsyncDriver``, without fan-out) can run.
"""
