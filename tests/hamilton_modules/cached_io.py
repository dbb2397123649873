"""Caching, materializers and modifiers in one Hamilton module (ported by the import change)."""

from hamilton.function_modifiers import (
    cache,
    dataloader,
    does,
    load_from,
    pipe_output,
    save_to,
    source,
    step,
)


def _total(**values: int) -> int:
    return sum(values.values())


@dataloader()
def settings(settings_path: str) -> tuple[dict, dict]:
    import json

    with open(settings_path) as f:
        data = json.load(f)
    return data, {"path": settings_path}


@load_from.json(path=source("numbers_path"))
def numbers(data: dict) -> list:
    return list(data["values"])


def scale(settings: dict) -> int:
    return int(settings["scale"])


def _times(x: list, by: int) -> list:
    return [v * by for v in x]


def _plus(x: list, n: int) -> list:
    return [v + n for v in x]


@pipe_output(step(_times, by=source("scale")), step(_plus, n=1))
def scaled(numbers: list) -> list:
    return numbers


@does(_total)
def combined(scale: int, count: int) -> int:
    pass


def count(scaled: list) -> int:
    return len(scaled)


@cache(behavior="recompute")
def stamp(combined: int) -> str:
    return f"run-{combined}"


@save_to.json(path=source("report_path"), output_name_="saved_report")
def report(scaled: list, combined: int, stamp: str) -> dict:
    return {"scaled": scaled, "combined": combined, "stamp": stamp}
