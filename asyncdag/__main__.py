"""``python -m asyncdag``: the ``asyncdag`` command."""

from .cli import main

raise SystemExit(main())
