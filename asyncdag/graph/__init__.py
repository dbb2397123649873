"""Pure DAG building: crawl functions into nodes, validate, and plan parallel blocks."""
