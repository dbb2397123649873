"""extract_columns on a pandas DataFrame, as a Hamilton user writes it."""

import pandas as pd
from hamilton.function_modifiers import check_output, extract_columns


@extract_columns("price", "quantity")
def orders(n: int) -> pd.DataFrame:
    return pd.DataFrame({"price": [float(i) for i in range(n)], "quantity": list(range(n))})


@check_output(range=(0.0, 1_000.0), importance="fail")
def revenue(price: pd.Series, quantity: pd.Series) -> pd.Series:
    return price * quantity


def total_revenue(revenue: pd.Series) -> float:
    return float(revenue.sum())


def mean_quantity(quantity: pd.Series) -> float:
    return float(quantity.mean())
