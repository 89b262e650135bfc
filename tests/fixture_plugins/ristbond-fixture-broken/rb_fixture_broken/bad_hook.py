"""A plugin implementing a hook that does not exist (a typo in the hook name)."""

from ristbond_core import hookimpl


@hookimpl
def ristbond_register_schedulerz(registry) -> None:  # type: ignore[no-untyped-def]
    return None
