"""Hamilton's ``h_dask`` path: the Dask executor."""

from ..execution.executors.dask import DaskExecutor as DaskExecutor

__all__ = ["DaskExecutor"]
