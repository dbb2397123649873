"""DAGs generated at run time: a linear chain and a diamond-heavy lattice.

Each function is made with ``exec`` so that its parameter names wire it, and its
``__module__`` is set to the generated module, so both Hamilton and asyncdag crawl it.
Neither needs ``Parallelizable``, so one module serves both engines.
"""

from __future__ import annotations

import sys
import types


def _module(name: str, sources: list[str]) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    namespace: dict[str, object] = {"__name__": name}
    exec(compile("\n".join(sources), f"<{name}>", "exec"), namespace)
    for key, value in namespace.items():
        if isinstance(value, types.FunctionType):
            value.__module__ = name
            setattr(module, key, value)
    return module


def chain(length: int, *, use_async: bool = False) -> types.ModuleType:
    """``n_0(x) -> n_1(n_0) -> ... -> n_{length-1}``: each node adds one; output ``last``."""
    kind = "async def" if use_async else "def"
    sources = [f"{kind} n_0(x: int) -> int:\n    return x + 1\n"]
    sources += [
        f"{kind} n_{i}(n_{i - 1}: int) -> int:\n    return n_{i - 1} + 1\n"
        for i in range(1, length)
    ]
    suffix = "async" if use_async else "sync"
    return _module(f"benchmarks_generated_chain_{length}_{suffix}", sources)


def chain_output(length: int) -> str:
    return f"n_{length - 1}"


def diamond(nodes: int, width: int = 10, *, use_async: bool = False) -> types.ModuleType:
    """Layers of ``width`` nodes; each reads two neighbours of the layer above; one sink.

    Every pair of adjacent layers forms ``width`` overlapping diamonds. ``nodes`` counts the
    lattice (``nodes // width`` layers) plus one sink node, ``sink``.
    """
    kind = "async def" if use_async else "def"
    layers = nodes // width
    sources = [f"{kind} d_0_{i}(x: int) -> int:\n    return x + {i}\n" for i in range(width)]
    for layer in range(1, layers):
        for i in range(width):
            a, b = f"d_{layer - 1}_{i}", f"d_{layer - 1}_{(i + 1) % width}"
            sources.append(
                f"{kind} d_{layer}_{i}({a}: int, {b}: int) -> int:\n"
                f"    return ({a} + {b}) & 0xFFFF\n"
            )
    last = [f"d_{layers - 1}_{i}" for i in range(width)]
    params = ", ".join(f"{name}: int" for name in last)
    sources.append(f"{kind} sink({params}) -> int:\n    return {' + '.join(last)}\n")
    suffix = "async" if use_async else "sync"
    return _module(f"benchmarks_generated_diamond_{nodes}_{suffix}", sources)


def diamond_size(nodes: int, width: int = 10) -> int:
    """The node count of ``diamond(nodes, width)``, sink included."""
    return (nodes // width) * width + 1
