"""The word count of ``word_count.py``, its branches on a Dask or a Ray cluster.

Run ``python examples/cluster.py --backend dask`` (or ``ray``). Without ``--address`` a
local cluster starts (one worker per core) and stops with the Driver; with one, the
branches go to that cluster::

    python examples/cluster.py --backend dask --address tcp://scheduler:8786
    python examples/cluster.py --backend ray --address ray-head:6379

Needs ``pip install 'asyncdag[dask]'`` or ``'asyncdag[ray]'``. The DAG is the same as on
one machine: only the remote executor changes.
"""

import argparse
import asyncio
from pathlib import Path

import word_count

from asyncdag import Builder, executors
from asyncdag.execution.executors import Executor

TEXTS = Path(__file__).resolve().parent / "texts"


def cluster_executor(backend: str, address: str | None) -> Executor:
    """The remote executor for ``backend``, on the cluster at ``address`` (or a local one)."""
    if backend == "dask":
        return executors.DaskExecutor(address=address)
    return executors.RayExecutor(address=address)


async def count(backend: str, address: str | None) -> dict[str, int]:
    """Each text's word count, and the total, computed on the cluster."""
    dr = (
        Builder()
        .with_modules(word_count)
        .with_remote_executor(cluster_executor(backend, address))  # the one line that changes
        .build()
    )
    async with dr:  # closes the local cluster, if one was started
        out = await dr.execute(["per_document", "total_words"], inputs={"text_dir": str(TEXTS)})
    return {**out["per_document"], "total": out["total_words"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["dask", "ray"], default="dask")
    parser.add_argument("--address", help="a Dask scheduler or Ray cluster address")
    args = parser.parse_args()
    counts = asyncio.run(count(args.backend, args.address))
    width = max(len(name) for name in counts)
    for name, n in counts.items():
        print(f"{name:<{width}}  {n:>6}")


if __name__ == "__main__":  # required: Dask's local workers re-import the main module
    main()
