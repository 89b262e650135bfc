"""SRP (EAP-SRP) authentication in the librist transport, main profile.

Sender links log in with ``username``/``password``; listen addresses check users against
an ``srpfile`` written by ``ristsrppasswd`` (or a single ``username``/``password``).
Interop runs against librist's own ``ristreceiver -F`` and ``ristsender``; the option
and srpfile checks are fast unit tests that need neither librist nor rist-tools.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from ristbond_transport_librist import LibristOptions, LibristTransport, binding
from ristbond_transport_librist.options import (
    parse_link_options,
    read_srpfile,
    secrets_of,
    sender_url,
)

from ristbond_core.errors import RistbondError
from tests.conftest import require_program
from tests.librist.helpers import (
    HOST,
    PSK,
    assert_stream_intact,
    drain_receiver,
    drain_socket,
    index_of,
    links,
    listeners,
    payload,
    settings,
    transport,
    write_paced,
)

USER = "ristbond-user"
PASSWORD = "srp-test-Pa55word"
CREDENTIALS = {"username": USER, "password": PASSWORD}
WRONG = {"username": USER, "password": "not-the-password"}
COUNT = 600
RATE_PPS = 400  # 1.5 s of 1316-byte payloads
LOGGER = binding.LOGGER_NAME
#: A library that loads but has no librist symbols: stands in for a librist without SRP.
NO_SRP_LIBRARY = "libc.so.6"


@pytest.fixture
def srpfile(tmp_path: Path) -> Path:
    """An SRP users file with ``USER`` (and one more user), made by ristsrppasswd."""
    program = require_program("ristsrppasswd", "rist-tools")
    path = tmp_path / "users.srp"
    lines = [subprocess.run([program, user, password], check=True, capture_output=True,
                            timeout=10).stdout.decode()
             for user, password in (("someone-else", "other-pass"), (USER, PASSWORD))]
    path.write_text("".join(lines))
    return path


def start_ristreceiver(processes: list[subprocess.Popen[bytes]], port: int, srpfile: Path,
                       out_port: int) -> None:
    """``ristreceiver -p 1 -F srpfile`` listening on ``port``, output to ``out_port``."""
    program = require_program("ristreceiver", "rist-tools")
    proc = subprocess.Popen(
        [program, "-p", "1", "-F", str(srpfile), "-i", f"rist://@{HOST}:{port}?buffer=200",
         "-o", f"udp://{HOST}:{out_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(proc)
    time.sleep(0.3)  # let it bind before the sender's first handshake
    assert proc.poll() is None, "ristreceiver exited at start"


def send_collecting(sender: LibristTransport, sock: socket.socket, count: int,
                    tail_s: float = 3.0) -> list[bytes]:
    """Write ``count`` paced payloads, collecting what arrives on ``sock`` meanwhile and
    for up to ``tail_s`` after."""
    collected: list[bytes] = []
    start = time.monotonic()
    for index in range(count):
        sender.write(payload(index))
        if index % 20 == 19:
            drain_socket(sock, collected, index, limit_s=0.0)
        delay = start + (index + 1) / RATE_PPS - time.monotonic()
        if delay > 0.002:
            time.sleep(delay)
    drain_socket(sock, collected, count - 1, limit_s=tail_s)
    return collected


def srp_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The SRP errors the transport logged."""
    return [r.getMessage() for r in caplog.records
            if r.name == LOGGER and r.levelno == logging.ERROR and "SRP" in r.getMessage()]


# -- (a, b) our sender -> ristreceiver -F ----------------------------------------------


@pytest.mark.interop
@pytest.mark.usefixtures("librist")
def test_ristreceiver_accepts_our_srp_login(
        free_port: Callable[[], int], processes: list[subprocess.Popen[bytes]],
        output: socket.socket, srpfile: Path) -> None:
    port = free_port()
    start_ristreceiver(processes, port, srpfile, output.getsockname()[1])
    sender = transport()
    try:
        sender.start_sender(settings(flow_id=4040), links([port], CREDENTIALS))
        collected = send_collecting(sender, output, COUNT)
        assert sender.stats()["held_forced"] == 0  # held until the log-in was done
    finally:
        sender.close()
    assert_stream_intact(collected, COUNT)


@pytest.mark.interop
@pytest.mark.usefixtures("librist")
def test_a_wrong_password_delivers_nothing_and_says_why(
        free_port: Callable[[], int], processes: list[subprocess.Popen[bytes]],
        output: socket.socket, srpfile: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)
    port = free_port()
    start_ristreceiver(processes, port, srpfile, output.getsockname()[1])
    sender = transport()
    try:
        sender.start_sender(settings(flow_id=4042), links([port], WRONG))
        collected = send_collecting(sender, output, 200, tail_s=0.5)
        stats = sender.stats()
    finally:
        sender.close()
    assert collected == []
    assert stats["srp_failures"] >= 1
    # Said once, next to librist's own (repeated) "[EAP-SRP] Authentication failed".
    assert srp_errors(caplog).count(
        "librist: SRP log-in refused by the receiver: wrong username or password "
        "(nothing is delivered on that link)") == 1
    assert WRONG["password"] not in caplog.text


# -- (c) ristsender -> our receiver with the srpfile -----------------------------------


def feed_ristsender(feed_port: int, count: int, receiver: LibristTransport,
                    collected: list[bytes]) -> None:
    """Send ``count`` paced payloads to ristsender's UDP input, reading ``receiver``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as feed:
        start = time.monotonic()
        for index in range(count):
            feed.sendto(payload(index), (HOST, feed_port))
            if index % 20 == 19:
                collected.extend(receiver.read(1000))
            delay = start + (index + 1) / RATE_PPS - time.monotonic()
            if delay > 0.002:
                time.sleep(delay)


def assert_intact_after_login(collected: Sequence[bytes], count: int) -> None:
    """Byte-identical and gap-free from the first delivered payload to the last one.

    librist's ``ristsender`` sends what it reads at once, so payloads it gets before
    its log-in completes are lost for good; only the head may be missing.
    """
    assert collected, "nothing was delivered"
    first = index_of(collected[0])
    assert first < count // 2, f"the first {first} payloads were lost"
    assert list(collected) == [payload(i) for i in range(first, count)]


@pytest.mark.interop
@pytest.mark.usefixtures("librist")
def test_ristsender_logs_in_to_our_receiver(
        free_port: Callable[[], int], processes: list[subprocess.Popen[bytes]],
        srpfile: Path) -> None:
    program = require_program("ristsender", "rist-tools")
    port, feed_port = free_port(), free_port()
    receiver = transport()
    collected: list[bytes] = []
    try:
        receiver.start_receiver(settings(), listeners([port], {"srpfile": str(srpfile)}))
        query = f"username={USER}&password={PASSWORD}&buffer=200"
        proc = subprocess.Popen(
            [program, "-p", "1", "-i", f"udp://@{HOST}:{feed_port}",
             "-o", f"rist://{HOST}:{port}?{query}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(proc)
        time.sleep(0.5)  # its input socket is bound and the log-in done
        assert proc.poll() is None, "ristsender exited at start"
        feed_ristsender(feed_port, COUNT, receiver, collected)
        drain_receiver(receiver, collected, COUNT - 1, limit_s=3.0)
        stats = receiver.stats()
    finally:
        receiver.close()
    assert_intact_after_login(collected, COUNT)
    assert stats.get("srp_failures", 0) == 0


# -- (d) our sender -> our receiver -----------------------------------------------------


@pytest.mark.e2e
@pytest.mark.usefixtures("librist")
@pytest.mark.parametrize(("listen_with", "psk"), [("srpfile", False), ("credentials", False),
                                                  ("srpfile", True)])
def test_our_sender_logs_in_to_our_receiver(
        free_port: Callable[[], int], srpfile: Path, listen_with: str, psk: bool) -> None:
    ports = [free_port(), free_port()]
    listen_options: dict[str, object] = (
        {"srpfile": str(srpfile)} if listen_with == "srpfile" else dict(CREDENTIALS))
    link_options: dict[str, object] = dict(CREDENTIALS)
    if psk:  # SRP authenticates, the PSK encrypts: both at once
        listen_options.update(PSK)
        link_options.update(PSK)
    receiver, sender = transport(), transport()
    collected: list[bytes] = []
    try:
        receiver.start_receiver(settings(), listeners(ports, listen_options))
        sender.start_sender(settings(flow_id=4044), links(ports, link_options))
        write_paced(sender, COUNT, RATE_PPS, receiver, collected)
        drain_receiver(receiver, collected, COUNT - 1, limit_s=3.0)
        assert sender.stats()["held_forced"] == 0  # both links logged in and connected
    finally:
        sender.close()
        receiver.close()
    assert_stream_intact(collected, COUNT)


@pytest.mark.e2e
@pytest.mark.usefixtures("librist")
@pytest.mark.parametrize(("credentials", "receiver_error"), [
    (WRONG, f"librist: SRP log-in of user '{USER}' from {HOST} failed: wrong password "
            "(nothing from it is delivered)"),
    ({"username": "stranger", "password": PASSWORD},
     "librist: SRP log-in refused: user 'stranger' is not in the srpfile {srpfile} "
     "(nothing from it is delivered)"),
])
def test_our_receiver_refuses_bad_logins_clearly(
        free_port: Callable[[], int], srpfile: Path, caplog: pytest.LogCaptureFixture,
        credentials: dict[str, str], receiver_error: str) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)
    port = free_port()
    receiver, sender = transport(), transport()
    collected: list[bytes] = []
    try:
        receiver.start_receiver(settings(), listeners([port], {"srpfile": str(srpfile)}))
        sender.start_sender(settings(flow_id=4046), links([port], credentials))
        write_paced(sender, 300, RATE_PPS, receiver, collected)
        drain_receiver(receiver, collected, 299, limit_s=0.5)
        receiver_stats = receiver.stats()
    finally:
        sender.close()
        receiver.close()
    assert collected == []
    assert receiver_stats["srp_failures"] >= 1
    assert srp_errors(caplog).count(receiver_error.format(srpfile=srpfile)) == 1
    assert credentials["password"] not in caplog.text


# -- (e) option checks (no librist needed) ---------------------------------------------


@pytest.mark.parametrize(("given", "missing"), [({"username": USER}, "password"),
                                                ({"password": PASSWORD}, "username")])
def test_username_and_password_come_together(given: dict[str, str], missing: str) -> None:
    present = next(iter(given))
    with pytest.raises(RistbondError, match=(
            rf"link 'a': option '{present}' needs '{missing}' too")) as info:
        parse_link_options(given, "link 'a'")
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("username", "a:b", "must not contain"),
    ("username", "x" * 256, "1 to 255 bytes"),
    ("password", "pass&word", "must not contain"),
    ("password", "p" * 256, "1 to 255 bytes"),
])
def test_bad_srp_values_are_refused_without_echoing_them(key: str, value: str,
                                                         problem: str) -> None:
    options = {**CREDENTIALS, key: value}
    with pytest.raises(RistbondError, match=rf"option '{key}'.*{problem}") as info:
        parse_link_options(options, "link 'a'")
    if key == "password":
        assert value not in str(info.value)


def test_srp_in_the_simple_profile_names_the_key_and_the_fix(
        free_port: Callable[[], int]) -> None:
    sender = transport(profile="simple")
    with pytest.raises(RistbondError, match=(
            r"link 'l0': option 'username': SRP authentication exists only in the main "
            r"profile; set \[transport.options\] profile = \"main\"")) as info:
        sender.start_sender(settings(), links([free_port()], CREDENTIALS))
    assert PASSWORD not in str(info.value)
    sender.close()


def test_srpfile_on_a_sender_link_is_refused(free_port: Callable[[], int],
                                             tmp_path: Path) -> None:
    sender = transport()
    with pytest.raises(RistbondError, match=r"link 'l0': option 'srpfile' is for listen "):
        sender.start_sender(settings(), links([free_port()], {"srpfile": str(tmp_path)}))
    sender.close()


def test_srpfile_and_credentials_exclude_each_other() -> None:
    with pytest.raises(RistbondError, match=r"'srpfile' and 'username'/'password' exclude"):
        parse_link_options({**CREDENTIALS, "srpfile": "users.srp"}, "listen address x")


def test_srp_without_srp_in_librist_is_one_clear_error(free_port: Callable[[], int]) -> None:
    sender = LibristTransport(LibristOptions(), library_name=NO_SRP_LIBRARY)
    with pytest.raises(RistbondError, match=(
            r"link 'l0': option 'username': SRP is not available in the installed librist")):
        sender.start_sender(settings(), links([free_port()], CREDENTIALS))
    sender.close()
    assert not binding.srp_available(NO_SRP_LIBRARY)


@pytest.mark.usefixtures("librist")
def test_the_installed_librist_has_srp() -> None:
    assert binding.srp_available()


# -- (e) srpfile parsing ---------------------------------------------------------------

VERIFIER = "AAECAwQFBgcICQoLDA0ODw"  # 16 bytes, unpadded like ristsrppasswd writes
SALT = "EBESExQVFhcYGRobHB0eHw"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "users.srp"
    path.write_text(text)
    return str(path)


def test_an_srpfile_is_read_into_raw_verifiers_and_salts(tmp_path: Path) -> None:
    users = read_srpfile(write(tmp_path, f"alice:{VERIFIER}:{SALT}:3\n\nbob:{SALT}:{VERIFIER}:3"))
    assert set(users) == {"alice", "bob"}
    assert users["alice"].verifier == bytes(range(16))
    assert users["alice"].salt == bytes(range(16, 32))


def test_a_file_made_by_ristsrppasswd_is_read(srpfile: Path) -> None:
    users = read_srpfile(str(srpfile))
    assert set(users) == {"someone-else", USER}
    assert len(users[USER].verifier) == 256  # librist's 2048-bit group


@pytest.mark.parametrize(("text", "problem"), [
    (f"alice:{VERIFIER}:{SALT}:3\nbob:{VERIFIER}:{SALT}\n", "line 2: 3 ':'-separated fields"),
    (f"alice:{VERIFIER}:{SALT}:3\n\nalice:{VERIFIER}:{SALT}:3\n",
     "line 3: user 'alice' is already on line 1"),
    (f"alice:{VERIFIER}:not*base64:3\n", "line 1: the salt is not base64"),
    (f"alice::{SALT}:3\n", "line 1: the verifier must be 1 to 1024 bytes"),
    (f":{VERIFIER}:{SALT}:3\n", "line 1: the user name must be 1 to 255 bytes"),
    (f"alice:{VERIFIER}:{SALT}:1\n", "line 1: the last field must be 3"),
    ("\n\n", "no users"),
])
def test_a_malformed_srpfile_names_the_path_and_the_line(tmp_path: Path, text: str,
                                                         problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RistbondError, match=rf"^srpfile {path}: {problem}") as info:
        read_srpfile(path)
    assert VERIFIER not in str(info.value) and SALT not in str(info.value)


def test_a_missing_srpfile_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.srp"
    with pytest.raises(RistbondError, match=rf"srpfile {path}: cannot read it: No such file"):
        read_srpfile(str(path))


@pytest.mark.usefixtures("librist")
def test_a_bad_srpfile_stops_the_receiver_before_librist_starts(
        free_port: Callable[[], int], tmp_path: Path) -> None:
    path = write(tmp_path, "alice:only-two-fields\n")
    receiver = transport()
    with pytest.raises(RistbondError, match=rf"srpfile {path}: line 1: 2 ':'-separated"):
        receiver.start_receiver(settings(), listeners([free_port()], {"srpfile": path}))
    assert receiver.fileno() is None  # no session was created
    receiver.close()


# -- (f) the password stays hidden ------------------------------------------------------


def test_the_password_is_masked_in_shown_urls_and_reprs() -> None:
    options = parse_link_options(CREDENTIALS, "link 'a'")
    real = sender_url(HOST, 9000, options, latency_ms=200, cname="a", weight=5)
    shown = sender_url(HOST, 9000, options, latency_ms=200, cname="a", weight=5, mask=True)
    assert f"username={USER}&password={PASSWORD}" in real
    assert f"username={USER}&password=***" in shown and PASSWORD not in shown
    assert PASSWORD not in repr(options) and PASSWORD not in str(options)
    assert secrets_of(options) == (PASSWORD,)


@pytest.mark.e2e
@pytest.mark.usefixtures("librist")
def test_the_password_never_reaches_logs_or_stats(
        free_port: Callable[[], int], srpfile: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    port = free_port()
    receiver = transport(log_level="debug")
    sender = transport(log_level="debug")
    collected: list[bytes] = []
    try:
        receiver.start_receiver(settings(), listeners([port], {"srpfile": str(srpfile)}))
        sender.start_sender(settings(flow_id=4048), links([port], CREDENTIALS))
        write_paced(sender, 200, RATE_PPS, receiver, collected)
        drain_receiver(receiver, collected, 199, limit_s=3.0)
        shown = json.dumps([sender.stats(), receiver.stats()], default=str)
        reports = repr([sender.poll_reports(), receiver.poll_reports()])
    finally:
        sender.close()
        receiver.close()
    assert len(collected) == 200
    assert "EAP" in caplog.text  # librist's SRP lines were forwarded (and scrubbed)
    for text in (caplog.text, shown, reports):
        assert PASSWORD not in text
