"""Error paths: a missing library, bad addresses and options, misuse; plugin registration."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import pytest
from ristbond_transport_librist import LibristOptions, LibristTransport, binding, plugin

from ristbond_core.contracts import LinkEndpoint, SessionTransport
from ristbond_core.errors import RistbondError
from ristbond_core.registry import TransportRegistry
from tests.librist.helpers import HOST, SECRET, links, listeners, settings, transport

BOGUS_LIBRARY = "librist-does-not-exist.so.99"


def test_missing_library_says_which_package_to_install() -> None:
    with pytest.raises(binding.LibristUnavailable, match=r"apt-get install librist4"):
        binding.load(BOGUS_LIBRARY)


def test_transport_on_a_missing_library_raises_the_install_hint(
        free_port: Callable[[], int]) -> None:
    sender = LibristTransport(LibristOptions(), library_name=BOGUS_LIBRARY)
    with pytest.raises(RistbondError, match="librist4"):
        sender.start_sender(settings(), links([free_port()]))
    sender.close()


def test_plugin_registers_librist_with_its_options_model() -> None:
    registry = TransportRegistry("transport")
    plugin.ristbond_register_transports(registry)
    backend = registry.get("librist")
    assert backend is not None and backend.options_model is LibristOptions
    names = [ep.name for ep in entry_points(group="ristbond.plugins")]
    assert "librist" in names


def test_transport_implements_the_session_contract() -> None:
    assert isinstance(LibristTransport(LibristOptions()), SessionTransport)


def test_an_unresolvable_host_is_refused_without_the_secret(
        free_port: Callable[[], int]) -> None:
    # librist itself accepts the peer and only logs the failure on its thread.
    sender = transport()
    bad = [LinkEndpoint("l0", "no-such-host.invalid", free_port(),
                        options={"secret": SECRET})]
    with pytest.raises(RistbondError, match="link 'l0': cannot resolve host") as info:
        sender.start_sender(settings(), bad)
    assert SECRET not in str(info.value)
    sender.close()


@pytest.mark.usefixtures("librist")
def test_a_librist_failure_names_the_call_and_librists_reason(
        free_port: Callable[[], int]) -> None:
    sender = transport()
    try:
        sender.start_sender(settings(), links([free_port()]))
        with pytest.raises(binding.LibristError,
                           match=r"librist rist_sender_data_write failed.*max is") as info:
            sender.write(bytes(20_000))
        assert info.value.call == "rist_sender_data_write"
    finally:
        sender.close()


@pytest.mark.usefixtures("librist")
def test_unknown_link_option_fails_before_librist_is_touched(
        free_port: Callable[[], int]) -> None:
    sender = transport()
    with pytest.raises(RistbondError, match="unknown librist option 'weigth'"):
        sender.start_sender(settings(), links([free_port()], {"weigth": 3}))
    sender.close()


def test_interface_binding_is_refused_clearly(free_port: Callable[[], int]) -> None:
    sender = transport()
    link = LinkEndpoint("l0", HOST, free_port(), interface="wwan0")
    with pytest.raises(RistbondError, match="cannot bind a link to an interface"):
        sender.start_sender(settings(), [link])
    sender.close()


def test_use_before_start_is_a_clear_error() -> None:
    idle = transport()
    with pytest.raises(RistbondError, match="start it first"):
        idle.write(b"x")
    with pytest.raises(RistbondError, match="start it first"):
        idle.apply_shares({})
    assert idle.fileno() is None


@pytest.mark.usefixtures("librist")
def test_close_is_idempotent_and_stops_the_session(free_port: Callable[[], int]) -> None:
    receiver = transport()
    receiver.start_receiver(settings(), listeners([free_port()]))
    assert receiver.fileno() is not None
    receiver.close()
    receiver.close()
    assert receiver.fileno() is None
    with pytest.raises(RistbondError):
        receiver.read(1)
    assert receiver.stats()["librist_version"].startswith("0.")


@pytest.mark.usefixtures("librist")
def test_a_listen_port_in_use_is_refused(free_port: Callable[[], int]) -> None:
    port = free_port()
    first, second = transport(), transport()
    try:
        first.start_receiver(settings(), listeners([port]))
        with pytest.raises(RistbondError, match=f"listen address {HOST}:{port}: cannot listen"):
            second.start_receiver(settings(), listeners([port]))
    finally:
        first.close()
        second.close()
