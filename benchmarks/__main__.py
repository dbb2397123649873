"""``python -m benchmarks``: run the benchmarks."""

from .main import main

raise SystemExit(main())
