"""Plain functions that tests/hamilton_modules/subdags.py builds twice with @subdag."""


def cleaned(raw: int) -> int:
    return raw * 2


def scaled(cleaned: int, factor: int) -> int:
    return cleaned * factor


def total(scaled: int, offset: int) -> int:
    return scaled + offset
