"""Pure DAG building: crawl functions into nodes, validate, and plan parallel blocks."""

from .graph import FunctionGraph as FunctionGraph  # Hamilton's hamilton.graph.FunctionGraph
