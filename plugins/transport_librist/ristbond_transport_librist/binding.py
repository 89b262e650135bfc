"""A thin, checked cffi binding to librist (ABI mode: no compiler, only ``librist.so.4``).

The declarations below are written by hand from the librist 0.2.x (API 4) ABI and cover
only what the transport uses. Every call's return code is checked; a failure raises one
``LibristError`` naming the call and the last error librist logged (librist reports its
reasons through the log callback, not through return codes).

Callbacks run on librist's threads. They only copy data into thread-safe deques and
never raise into C: every exception is caught and counted. librist copies the first
logging settings it sees into process-wide globals and may call that log callback after
the context that installed it is gone, so the C callbacks are module-level objects that
live for the whole process and their ``arg`` is a small integer id, never a pointer to a
Python object that could be freed.

EAP-SRP is optional in librist builds (``rist_enable_eap_srp`` exists only when librist
was built with a crypto library); ``srp_available`` says whether the loaded one has it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cffi

from ristbond_core.errors import RistbondError

#: The shared object to load; tests point this elsewhere to simulate a missing library.
LIBRARY_NAME = "librist.so.4"

LOGGER_NAME = "ristbond_transport_librist"

PROFILE_SIMPLE = 0
PROFILE_MAIN = 1

LOG_DISABLE = -1
LOG_ERROR = 3
LOG_WARN = 4
LOG_NOTICE = 5
LOG_INFO = 6
LOG_DEBUG = 7

NACK_RANGE = 0
NACK_BITMASK = 1

STATS_SENDER_PEER = 0
STATS_RECEIVER_FLOW = 1

# Peer connection statuses (librist's enum rist_connection_status).
CONNECTION_ESTABLISHED = 0
CONNECTION_TIMED_OUT = 1
CLIENT_CONNECTED = 2
CLIENT_TIMED_OUT = 3
#: Statuses that mean "this peer now reaches the other side".
CONNECTED_STATUSES = frozenset({CONNECTION_ESTABLISHED, CLIENT_CONNECTED})

#: Log lines and stats reports kept per context until the owner drains them.
QUEUE_LIMIT = 4096

# Hand-written declarations (only what is used). Structs are declared field by field
# in ABI order because librist reads and writes them directly.
_CDEF = """
struct rist_ctx;
struct rist_peer;
struct rist_ref;
typedef struct _IO_FILE FILE;

struct rist_data_block {
    const void *payload;
    size_t payload_len;
    uint64_t ts_ntp;
    uint16_t virt_src_port;
    uint16_t virt_dst_port;
    struct rist_peer *peer;
    uint32_t flow_id;
    uint64_t seq;
    uint32_t flags;
    struct rist_ref *ref;
};

struct rist_peer_config {
    int version;
    int address_family;
    int initiate_conn;
    char address[256];
    char miface[128];
    uint16_t physical_port;
    uint16_t virt_dst_port;
    int recovery_mode;
    uint32_t recovery_maxbitrate;
    uint32_t recovery_maxbitrate_return;
    uint32_t recovery_length_min;
    uint32_t recovery_length_max;
    uint32_t recovery_reorder_buffer;
    uint32_t recovery_rtt_min;
    uint32_t recovery_rtt_max;
    uint32_t weight;
    char secret[128];
    int key_size;
    uint32_t key_rotation;
    int compression;
    char cname[128];
    int congestion_control_mode;
    uint32_t min_retries;
    uint32_t max_retries;
    uint32_t session_timeout;
    uint32_t keepalive_interval;
    uint32_t timing_mode;
    char srp_username[256];
    char srp_password[256];
};

struct rist_logging_settings {
    int log_level;
    int (*log_cb)(void *arg, int level, const char *msg);
    void *log_cb_arg;
    int log_socket;
    FILE *log_stream;
};

struct rist_stats_sender_peer {
    char cname[128];
    uint32_t peer_id;
    size_t bandwidth;
    size_t retry_bandwidth;
    uint64_t sent;
    uint64_t received;
    uint64_t retransmitted;
    double quality;
    uint32_t rtt;
};

struct rist_stats_receiver_flow {
    uint32_t peer_count;
    char cname[256];
    uint32_t flow_id;
    int status;
    size_t bandwidth;
    size_t retry_bandwidth;
    uint64_t sent;
    uint64_t received;
    uint32_t missing;
    uint32_t reordered;
    uint32_t recovered;
    uint32_t recovered_one_retry;
    uint32_t lost;
    double quality;
    uint64_t min_inter_packet_spacing;
    uint64_t cur_inter_packet_spacing;
    uint64_t max_inter_packet_spacing;
    uint32_t rtt;
};

struct rist_stats {
    uint32_t json_size;
    char *stats_json;
    uint16_t version;
    int stats_type;
    union {
        struct rist_stats_sender_peer sender_peer;
        struct rist_stats_receiver_flow receiver_flow;
    } stats;
};

const char *librist_version(void);
uint32_t rist_flow_id_create(void);
int rist_sender_create(struct rist_ctx **ctx, int profile, uint32_t flow_id,
                       struct rist_logging_settings *logging_settings);
int rist_receiver_create(struct rist_ctx **ctx, int profile,
                         struct rist_logging_settings *logging_settings);
int rist_start(struct rist_ctx *ctx);
int rist_destroy(struct rist_ctx *ctx);
int rist_parse_address2(const char *url, struct rist_peer_config **peer_config);
int rist_peer_config_free2(struct rist_peer_config **peer_config);
int rist_peer_create(struct rist_ctx *ctx, struct rist_peer **peer,
                     const struct rist_peer_config *config);
int rist_peer_destroy(struct rist_ctx *ctx, struct rist_peer *peer);
int rist_peer_weight_set(struct rist_ctx *ctx, struct rist_peer *peer, const uint32_t weight);
int rist_sender_data_write(struct rist_ctx *ctx, const struct rist_data_block *data_block);
int rist_receiver_data_read2(struct rist_ctx *ctx, struct rist_data_block **data_block,
                             int timeout);
void rist_receiver_data_block_free2(struct rist_data_block **block);
int rist_receiver_data_notify_fd_set(struct rist_ctx *ctx, int fd);
int rist_receiver_nack_type_set(struct rist_ctx *ctx, int nack_type);
int rist_stats_callback_set(struct rist_ctx *ctx, int statsinterval,
                            int (*stats_cb)(void *arg, const struct rist_stats *stats),
                            void *arg);
int rist_stats_free(const struct rist_stats *stats);
int rist_connection_status_callback_set(
    struct rist_ctx *ctx, void (*cb)(void *arg, struct rist_peer *peer, int status),
    void *arg);
int rist_logging_set(struct rist_logging_settings **logging_settings, int log_level,
                     int (*log_cb)(void *arg, int level, const char *msg),
                     void *cb_arg, char *address, FILE *logfp);
int rist_logging_settings_free2(struct rist_logging_settings **logging_settings);
"""

# EAP-SRP (librist_srp.h of API 4, as in 0.2.7). The lookup callback fills heap buffers
# that librist releases with free(); see ``_srp_lookup_callback``.
_CDEF_SRP = """
typedef void (*user_verifier_lookup_t)(char *username,
                                       size_t *verifier_len, char **verifier,
                                       size_t *salt_len, char **salt,
                                       bool *use_default_2048_bit_n_modulus,
                                       char **n_modulus_ascii, char **generator_ascii,
                                       void *user_data);
int rist_enable_eap_srp(struct rist_peer *peer, const char *username, const char *password,
                        user_verifier_lookup_t lookup_func, void *userdata);
"""

# The C allocator librist frees with, resolved from the process (libc).
_CDEF_LIBC = """
void *malloc(size_t size);
void free(void *ptr);
"""

ffi = cffi.FFI()
ffi.cdef(_CDEF)
ffi.cdef(_CDEF_SRP)
ffi.cdef(_CDEF_LIBC)


def _text(pointer: Any) -> str:
    """A C string as ``str`` (undecodable bytes replaced)."""
    raw = ffi.string(pointer)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class LibristUnavailable(RistbondError):  # noqa: N818 - the name the project asked for
    """librist could not be loaded; the message says which package provides it."""


class LibristError(RistbondError):
    """A librist call failed; ``call`` names it and ``detail`` is librist's own reason."""

    def __init__(self, call: str, code: int, detail: str | None, context: str = "") -> None:
        self.call = call
        self.code = code
        self.detail = detail
        where = f" ({context})" if context else ""
        reason = f": {detail}" if detail else ""
        super().__init__(f"librist {call}{where} failed with {code}{reason}")


_lib: Any = None
_lib_lock = threading.Lock()


def load(library_name: str | None = None) -> Any:
    """The loaded librist (cached), or ``LibristUnavailable`` with the package to install."""
    global _lib
    name = LIBRARY_NAME if library_name is None else library_name
    with _lib_lock:
        if _lib is not None and library_name is None:
            return _lib
        try:
            lib = ffi.dlopen(name)
        except OSError as exc:
            raise LibristUnavailable(
                f"cannot load librist ({name}): {exc}. Install the Debian package "
                "librist4 (apt-get install librist4)"
            ) from None
        if library_name is None:
            _lib = lib
        return lib


def librist_version() -> str:
    """librist's version string, e.g. ``0.2.7``."""
    return _text(load().librist_version())


def new_flow_id() -> int:
    """A fresh flow id from librist (even, as RIST requires)."""
    return int(load().rist_flow_id_create()) & ~1


# -- callback sinks: data handed from librist threads to the owner ----------------------

_PY_LEVELS = {
    LOG_ERROR: logging.ERROR,
    LOG_WARN: logging.WARNING,
    LOG_NOTICE: logging.INFO,
    LOG_INFO: logging.INFO,
    LOG_DEBUG: logging.DEBUG,
}


def python_level(rist_level: int) -> int:
    """The Python ``logging`` level of a librist log level (unknown levels: DEBUG)."""
    return _PY_LEVELS.get(rist_level, logging.DEBUG)


@dataclass
class CallbackSink:
    """What one context's callbacks deliver: log lines, stats JSON, connection events
    and error counts.

    Deques are thread-safe for append/popleft; the counters are only incremented by
    callbacks (under the GIL) and read by the owner. ``peer_status`` is only assigned
    item by item (atomic under the GIL); the owner reads it through ``peer_statuses()``,
    which copies it.
    """

    secrets: tuple[str, ...] = ()
    logs: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=QUEUE_LIMIT))
    stats: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=QUEUE_LIMIT))
    last_error: str | None = None
    callback_errors: int = 0
    log_lines: int = 0
    stats_reports: int = 0
    #: (monotonic ns, peer address, status) per connection status callback.
    connections: deque[tuple[int, int, int]] = field(
        default_factory=lambda: deque(maxlen=QUEUE_LIMIT))
    #: Last status librist reported per peer, keyed by the peer's C address.
    peer_status: dict[int, int] = field(default_factory=dict)
    connection_events: int = 0
    #: Set once any peer reported a connected status; never cleared (see the transport).
    ever_connected: bool = False
    #: (user name, srpfile) per SRP log-in refused because the user is not in the file
    #: (librist itself only logs a bare "Failed to process EAPOL pkt" then).
    srp_unknown_users: deque[tuple[str, str]] = field(
        default_factory=lambda: deque(maxlen=QUEUE_LIMIT))

    def peer_statuses(self) -> dict[int, int]:
        """A copy of the last status per peer address (safe against callback writes)."""
        while True:
            try:
                return dict(self.peer_status)
            except RuntimeError:  # resized by a callback during the copy; try again
                continue

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Also scrub ``secrets`` from log lines from now on."""
        self.secrets = self.secrets + tuple(s for s in secrets if s)

    def scrub(self, text: str) -> str:
        """``text`` with every configured secret replaced by ``***``."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


_sinks: dict[int, CallbackSink] = {}
_sink_ids = itertools.count(1)
#: Log lines whose context is gone (librist's process-wide logger) land here.
orphan_sink = CallbackSink()


def register_sink(sink: CallbackSink) -> int:
    """Make ``sink`` reachable from the C callbacks; returns its id (the callbacks' arg)."""
    sink_id = next(_sink_ids)
    _sinks[sink_id] = sink
    return sink_id


def unregister_sink(sink_id: int) -> None:
    """Stop routing callbacks to the sink ``sink_id`` (unknown ids are ignored)."""
    _sinks.pop(sink_id, None)


def _sink_for(arg: Any) -> CallbackSink:
    return _sinks.get(int(ffi.cast("intptr_t", arg)), orphan_sink)


@ffi.callback("int(void *, int, const char *)")
def _log_callback(arg: Any, level: int, msg: Any) -> int:
    sink = orphan_sink
    try:
        sink = _sink_for(arg)
        text = sink.scrub(_text(msg).strip())
        sink.log_lines += 1
        if level <= LOG_ERROR:
            sink.last_error = text
        sink.logs.append((int(level), text))
    except BaseException:  # never raise into librist's thread
        sink.callback_errors += 1
    return 0


@ffi.callback("int(void *, const struct rist_stats *)")
def _stats_callback(arg: Any, stats: Any) -> int:
    sink = orphan_sink
    try:
        sink = _sink_for(arg)
        text = _text(stats.stats_json)
        sink.stats.append((time.monotonic_ns(), text))
        sink.stats_reports += 1
    except BaseException:  # never raise into librist's thread
        sink.callback_errors += 1
    finally:
        # The report is ours to free (librist's own tools do the same in the callback).
        try:
            load().rist_stats_free(stats)
        except BaseException:
            sink.callback_errors += 1
    return 0


@ffi.callback("void(void *, struct rist_peer *, int)")
def _connection_callback(arg: Any, peer: Any, status: int) -> None:
    sink = orphan_sink
    try:
        sink = _sink_for(arg)
        address = peer_address(peer)
        code = int(status)
        sink.peer_status[address] = code
        sink.connections.append((time.monotonic_ns(), address, code))
        sink.connection_events += 1
        if code in CONNECTED_STATUSES:
            sink.ever_connected = True
    except BaseException:  # never raise into librist's thread
        sink.callback_errors += 1


# -- EAP-SRP: the verifier lookup of a listening peer --------------------------------


@dataclass(frozen=True)
class VerifierTable:
    """SRP users a listening peer accepts: user name -> (verifier, salt), raw bytes.

    Built before librist starts and never changed afterwards, so the lookup callback
    only reads it (no lock, nothing that could block librist's thread).
    """

    users: Mapping[bytes, tuple[bytes, bytes]]
    #: Where the users came from (the srpfile path), for messages.
    source: str
    sink: CallbackSink


_verifier_tables: dict[int, VerifierTable] = {}
_libc: Any = None


def _c_allocator() -> Any:
    """The process's C library (malloc/free), the allocator librist frees with."""
    global _libc
    with _lib_lock:
        if _libc is None:
            _libc = ffi.dlopen(None)
        return _libc


def _c_copy(libc: Any, data: bytes) -> Any:
    """A ``malloc``ed copy of ``data``, or NULL when the allocation failed."""
    buffer = libc.malloc(max(1, len(data)))
    if buffer != ffi.NULL:
        ffi.memmove(buffer, data, len(data))
    return buffer


@ffi.callback("user_verifier_lookup_t")
def _srp_lookup_callback(  # noqa: PLR0917 - librist's C signature
        username: Any, verifier_len: Any, verifier: Any, salt_len: Any, salt: Any,
        use_default_ng: Any, n_modulus_ascii: Any, generator_ascii: Any,
        user_data: Any) -> None:
    """librist asks for a user's SRP verifier and salt (on its receiver thread).

    librist counts the user as found only when both lengths and both pointers are set,
    and it ``free()``s the verifier, salt, modulus and generator pointers after the call
    whether or not the user was found. So the buffers handed out are copies made with
    the C library's ``malloc`` (never Python-owned memory), and the outputs are only
    written once both copies exist. The modulus and generator stay NULL: the
    verifiers ristsrppasswd writes use librist's default 2048-bit group.
    """
    sink = orphan_sink
    try:
        table = _verifier_tables.get(int(ffi.cast("intptr_t", user_data)))
        if table is None:  # the context is gone: nobody is accepted
            return
        sink = table.sink
        raw = ffi.string(username)  # ``char *``: always bytes
        name = raw if isinstance(raw, bytes) else raw.encode()
        entry = table.users.get(name)
        if entry is None:
            sink.srp_unknown_users.append((name.decode("utf-8", "replace"), table.source))
            return
        libc = _libc  # loaded when the table was registered
        verifier_bytes, salt_bytes = entry
        verifier_copy = _c_copy(libc, verifier_bytes)
        salt_copy = _c_copy(libc, salt_bytes)
        if ffi.NULL in (verifier_copy, salt_copy):
            libc.free(verifier_copy)
            libc.free(salt_copy)
            sink.callback_errors += 1
            return
        verifier[0] = verifier_copy
        verifier_len[0] = len(verifier_bytes)
        salt[0] = salt_copy
        salt_len[0] = len(salt_bytes)
        use_default_ng[0] = True
    except BaseException:  # never raise into librist's thread
        sink.callback_errors += 1


def srp_available(library_name: str | None = None) -> bool:
    """Whether the loaded librist has EAP-SRP (an optional part of librist builds)."""
    # cffi resolves a declared function on first access: AttributeError if missing.
    return hasattr(load(library_name), "rist_enable_eap_srp")


def peer_address(peer: Any) -> int:
    """A peer handle's C address: the key connection events use for that peer."""
    return int(ffi.cast("uintptr_t", peer))


# -- one librist context ----------------------------------------------------------------


def _check(sink: CallbackSink, call: str, code: int, context: str = "") -> int:
    if code < 0:
        raise LibristError(call, code, sink.last_error, sink.scrub(context))
    return code


def _free_peer_config(config: Any) -> None:
    holder = ffi.new("struct rist_peer_config **", config)
    load().rist_peer_config_free2(holder)


def _free_logging_settings(settings: Any) -> None:
    holder = ffi.new("struct rist_logging_settings **", settings)
    load().rist_logging_settings_free2(holder)


class LibristContext:
    """One librist sender or receiver context with checked calls; ``close()`` destroys it."""

    def __init__(self, *, sender: bool, profile: int, flow_id: int, log_level: int,
                 secrets: Iterable[str] = (), library_name: str | None = None) -> None:
        self._lib = load(library_name)
        self.sink = CallbackSink(secrets=tuple(s for s in secrets if s))
        self._sink_id = register_sink(self.sink)
        self._arg = ffi.cast("void *", self._sink_id)
        self._closed = False
        self._verifier_ids: list[int] = []
        self.is_sender = sender
        try:
            holder = ffi.new("struct rist_logging_settings **")
            self._call("rist_logging_set", holder, log_level, _log_callback, self._arg,
                       ffi.NULL, ffi.NULL)
            # Kept until after rist_destroy: the context may log through it to the end.
            self._logging = ffi.gc(holder[0], _free_logging_settings)
            ctx_holder = ffi.new("struct rist_ctx **")
            if sender:
                self._call("rist_sender_create", ctx_holder, profile, flow_id, self._logging)
            else:
                self._call("rist_receiver_create", ctx_holder, profile, self._logging)
            self._ctx = ctx_holder[0]
        except BaseException:
            unregister_sink(self._sink_id)
            raise

    def _check(self, call: str, code: int, context: str = "") -> int:
        return _check(self.sink, call, code, context)

    def _call(self, call: str, *args: Any, context: str = "") -> int:
        """Call librist's ``call`` and check it; only errors logged during it are quoted."""
        self.sink.last_error = None
        return self._check(call, int(getattr(self._lib, call)(*args)), context)

    def _live(self, call: str) -> Any:
        if self._closed:
            raise RistbondError(f"librist {call}: the session is closed")
        return self._ctx

    def peer_create(self, url: str, shown_url: str) -> Any:
        """Parse ``url`` and create a peer; ``shown_url`` (secrets masked) goes into errors."""
        ctx = self._live("rist_peer_create")
        holder = ffi.new("struct rist_peer_config **")
        self._call("rist_parse_address2", url.encode(), holder, context=shown_url)
        config = ffi.gc(holder[0], _free_peer_config)
        peer_holder = ffi.new("struct rist_peer **")
        self._call("rist_peer_create", ctx, peer_holder, config, context=shown_url)
        return peer_holder[0]

    def enable_srp_credentials(self, peer: Any, username: str, password: str) -> None:
        """EAP-SRP with one user's credentials (main profile).

        On a sender peer it logs in with them; on a listening peer librist accepts
        exactly this user. librist 0.2.7 does not act on the ``username``/``password``
        URL keys itself (``rist_peer_create`` only stores them), hence this call.
        """
        self._live("rist_enable_eap_srp")
        self._call("rist_enable_eap_srp", peer, username.encode(), password.encode(),
                   ffi.NULL, ffi.NULL)

    def enable_srp_verifiers(self, peer: Any, users: Mapping[bytes, tuple[bytes, bytes]],
                             source: str) -> None:
        """EAP-SRP on a listening peer: accept the ``users`` (name -> verifier, salt).

        librist passes the lookup callback an opaque pointer; like the other callbacks
        it gets a small integer id, and the table stays registered until ``close``.
        """
        self._live("rist_enable_eap_srp")
        _c_allocator()  # load the C allocator here, not on librist's thread
        table_id = next(_sink_ids)
        _verifier_tables[table_id] = VerifierTable(dict(users), source, self.sink)
        self._verifier_ids.append(table_id)
        self._call("rist_enable_eap_srp", peer, ffi.NULL, ffi.NULL, _srp_lookup_callback,
                   ffi.cast("void *", table_id))

    def peer_destroy(self, peer: Any) -> None:
        """Remove a peer from the running session."""
        self._call("rist_peer_destroy", self._live("rist_peer_destroy"), peer)

    def peer_weight_set(self, peer: Any, weight: int) -> None:
        """Set a sender peer's weight (0: every packet on this peer)."""
        self._call("rist_peer_weight_set", self._live("rist_peer_weight_set"), peer, weight)

    def stats_callback_set(self, interval_ms: int) -> None:
        """Deliver stats JSON every ``interval_ms`` into ``sink.stats``."""
        self._call("rist_stats_callback_set", self._live("rist_stats_callback_set"),
                   interval_ms, _stats_callback, self._arg)

    def connection_status_callback_set(self) -> None:
        """Record peer connection status changes into ``sink`` (``peer_status`` etc.)."""
        self._call("rist_connection_status_callback_set",
                   self._live("rist_connection_status_callback_set"),
                   _connection_callback, self._arg)

    def nack_type_set(self, nack_type: int) -> None:
        """Receiver: range (librist default) or bitmask NACKs."""
        self._call("rist_receiver_nack_type_set", self._live("rist_receiver_nack_type_set"),
                   nack_type)

    def notify_fd_set(self, fd: int) -> None:
        """Receiver: librist writes a byte to ``fd`` whenever a payload is ready."""
        self._call("rist_receiver_data_notify_fd_set",
                   self._live("rist_receiver_data_notify_fd_set"), fd)

    def start(self) -> None:
        """Start the context's threads."""
        self._call("rist_start", self._live("rist_start"))

    def write(self, payload: bytes) -> int:
        """Sender: queue one payload (librist copies it); returns librist's count."""
        ctx = self._live("rist_sender_data_write")
        block: Any = ffi.new("struct rist_data_block *")
        data = ffi.from_buffer(payload)
        block.payload = data
        block.payload_len = len(payload)
        return self._call("rist_sender_data_write", ctx, block)

    def read(self) -> tuple[bytes, int] | None:
        """Receiver: one delivered payload and its flags, or None (never waits).

        The block is copied and freed at once rather than handed out under ``ffi.gc``:
        blocks are reference-counted inside librist, and holding them would pin its
        buffers for as long as Python keeps the object.
        """
        ctx = self._live("rist_receiver_data_read2")
        holder = ffi.new("struct rist_data_block **")
        code = self._call("rist_receiver_data_read2", ctx, holder, 0)
        if code == 0 or holder[0] == ffi.NULL:
            return None
        try:
            block: Any = holder[0]
            return bytes(ffi.buffer(block.payload, block.payload_len)), int(block.flags)
        finally:
            self._lib.rist_receiver_data_block_free2(holder)

    def close(self) -> None:
        """Destroy the context (idempotent); callbacks stop reaching this sink."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call("rist_destroy", self._ctx)
        finally:
            unregister_sink(self._sink_id)
            for table_id in self._verifier_ids:
                _verifier_tables.pop(table_id, None)
            self._ctx = ffi.NULL
