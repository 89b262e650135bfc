"""``python -m ristbond_core.cli``."""

from ristbond_core.cli import main

raise SystemExit(main())
