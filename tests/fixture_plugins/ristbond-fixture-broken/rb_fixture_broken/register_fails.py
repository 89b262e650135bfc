"""A plugin that registers an invalid backend name."""

from ristbond_core import hookimpl


@hookimpl
def ristbond_register_schedulers(registry) -> None:  # type: ignore[no-untyped-def]
    registry.add("Bad Name!", lambda setup: None)
