"""Per-store figures, computed with pandas from the data file the task reads by a relative path."""
from __future__ import annotations

import pandas as pd

SALES = "data/sales.csv"


def store_summary(store: str) -> dict:
    """Units, revenue and best month of one store, read from ``data/sales.csv`` where the task runs."""
    sales = pd.read_csv(SALES)
    mine = sales[sales["store"] == store]
    revenue = (mine["units"] * mine["price"]).groupby(mine["month"]).sum()
    return {
        "units": int(mine["units"].sum()),
        "revenue": round(float(revenue.sum()), 2),
        "best_month": int(revenue.idxmax()),
    }
