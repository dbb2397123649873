"""The runtime: the scheduler walks a plan on the event loop; executors run sync work."""
