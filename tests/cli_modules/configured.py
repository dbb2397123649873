"""A DAG shaped by config: one alternative per mode, and a config value read as an int."""

from asyncdag import config


@config.when(mode="fast")
def speed__fast() -> str:
    return "fast"


@config.when(mode="slow")
def speed__slow() -> str:
    return "slow"


def doubled(threshold: int) -> int:
    return threshold * 2
