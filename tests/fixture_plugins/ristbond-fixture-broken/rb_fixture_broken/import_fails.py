"""A plugin whose dependency is missing."""

import rb_fixture_missing_dependency  # noqa: F401
