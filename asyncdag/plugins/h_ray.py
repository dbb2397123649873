"""Hamilton's ``h_ray`` path: ``RayTaskExecutor`` is asyncdag's ``RayExecutor``."""

from ..execution.executors.ray import RayExecutor

RayTaskExecutor = RayExecutor

__all__ = ["RayTaskExecutor"]
