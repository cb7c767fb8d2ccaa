"""The kannel.conf that pairs Kannel 1.4.5 with the bridge.

``render_kannel_config`` returns the text a user pastes into kannel.conf (or runs as is for
a test): the core group, a fake SMSC group (replace it with the operator's SMPP group in
production), the smsbox group, the sms-service that calls the bridge and the sendsms user
that the bridge pushes late replies with. The gateway test fixture starts the real Kannel
from this very text, so what the CLI prints is what was tested.

Why each setting (see KANNEL.md):

* ``get-url`` with ``%I`` (Kannel's UUID of the MO, stable across smsbox retries and store
  re-delivery) as the idempotency key, ``%b`` (raw text; ``%a`` squeezes blanks), and the
  coding/charset so the bridge can decode UTF-16BE or a legacy charset.
* ``mo-recode = true``: French and Arabic MOs reach the bridge as UTF-8.
* ``accept-x-kannel-headers = true``: the bridge's ``X-Kannel-Coding: 2`` switches a reply
  to UCS-2; Kannel never does so by itself.
* ``omit-empty = true`` and ``reply-couldnotfetch = ""``: when the MTS is down the bridge
  answers 202 with an empty body and the phone gets nothing now; the reply comes later by
  sendsms. The default "Could not fetch content, sorry." would be a lie about a paid SMS.
* ``sendsms-chars`` widened so a late reply can go back to a masked (alphanumeric) sender.
* ``http-request-retry`` × ``http-queue-delay``: a refused or failed call to the bridge (e.g.
  while it restarts) is retried by smsbox with the same ``%I``. smsbox keeps those retries in
  memory only and drops the MO after the last one, so their product is the longest bridge
  outage that loses nothing: 30 × 10 s by default, five minutes, well above a supervised
  restart.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The query the bridge parses (bridge.parse_kannel_request).
SMS_SERVICE_QUERY = "msgid=%I&from=%p&to=%P&text=%b&coding=%c&charset=%C&smsc=%i&ts=%T"

# Kannel's default sendsms-chars ("0123456789 +-") refuses a masked sender such as
# "opaque1"; the late reply must reach it too. No blank: one receiver per request.
SENDSMS_CHARS = "0123456789+-_.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._\-/:@+]*$")


def _quoted(value: str) -> str:
    # Kannel's config parser has no escape for a double quote inside a value: refuse
    # anything that could break out of the quotes rather than emit a config that lies.
    if '"' in value or "\n" in value or "\r" in value:
        raise ValueError(f"value cannot be written to kannel.conf: {value!r}")
    return f'"{value}"'


def _plain(name: str, value: str) -> str:
    if not _SAFE_VALUE.match(value):
        raise ValueError(f"{name} has characters kannel.conf cannot hold unquoted: {value!r}")
    return value


def bridge_get_url(bridge_url: str) -> str:
    """The sms-service get-url for a bridge listening at ``bridge_url`` (e.g.
    ``http://127.0.0.1:8088/kannel``)."""
    parts = urlsplit(bridge_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"bridge_url must be an http(s) URL: {bridge_url!r}")
    if parts.query:
        return f"{bridge_url}&{SMS_SERVICE_QUERY}"
    return f"{bridge_url}?{SMS_SERVICE_QUERY}"


def render_kannel_config(
    bridge_url: str,
    *,
    sendsms_port: int,
    sendsms_user: str,
    sendsms_password: str,
    smsc_port: int,
    admin_port: int = 13000,
    admin_password: str = "change-me",
    smsbox_port: int = 13001,
    host: str = "127.0.0.1",
    max_messages: int = 3,
    http_request_retry: int = 30,
    http_queue_delay: int = 10,
    store_file: str | None = None,
    log_dir: str | None = None,
    log_level: int = 1,
    smsc_id: str = "fake",
) -> str:
    """Render a complete kannel.conf for bearerbox + smsbox + the bridge.

    Args:
        bridge_url: where the bridge listens, e.g. ``http://127.0.0.1:8088/kannel``.
        sendsms_port / sendsms_user / sendsms_password: smsbox's sendsms interface, which
            the bridge's KannelSender uses for late replies (same values on both sides).
        smsc_port: the fake SMSC port that fakesmsc connects to (tests, demos).
        max_messages: most parts a reply may be split into (HTTP reply and sendsms alike).
        http_request_retry: smsbox's retries of a failed bridge call (same ``%I``).
        store_file: bearerbox's message store, so queued MOs/MTs survive a restart.
        log_dir: if given, bearerbox.log, smsbox.log and access.log go there.
    """
    for name, port in (("sendsms_port", sendsms_port), ("smsc_port", smsc_port),
                       ("admin_port", admin_port), ("smsbox_port", smsbox_port)):
        if not 0 < port < 65536:
            raise ValueError(f"{name} out of range: {port}")
    if max_messages < 1:
        raise ValueError("max_messages must be at least 1")
    _plain("sendsms_user", sendsms_user)
    _plain("sendsms_password", sendsms_password)
    _plain("admin_password", admin_password)
    _plain("smsc_id", smsc_id)

    core = [
        "group = core",
        f"admin-port = {admin_port}",
        f"admin-password = {_quoted(admin_password)}",
        f"admin-allow-ip = {_quoted(host)}",
        f"smsbox-port = {smsbox_port}",
        f"box-allow-ip = {_quoted(host)}",
        "dlr-storage = internal",
    ]
    if store_file:
        core += ["store-type = file", f"store-location = {_quoted(store_file)}"]
    if log_dir:
        core += [f"log-file = {_quoted(log_dir + '/bearerbox.log')}", f"log-level = {log_level}",
                 f"access-log = {_quoted(log_dir + '/access.log')}"]

    smsc = [
        "group = smsc",
        "smsc = fake",
        f"smsc-id = {smsc_id}",
        f"port = {smsc_port}",
        f"connect-allow-ip = {_quoted(host)}",
    ]

    smsbox = [
        "group = smsbox",
        f"bearerbox-host = {_quoted(host)}",
        f"bearerbox-port = {smsbox_port}",
        f"sendsms-port = {sendsms_port}",
        f"sendsms-interface = {_quoted(host)}",
        "mo-recode = true",
        f"http-request-retry = {http_request_retry}",
        f"http-queue-delay = {http_queue_delay}",
        'reply-couldnotfetch = ""',
        'reply-emptymessage = ""',
        f"sendsms-chars = {_quoted(SENDSMS_CHARS)}",
    ]
    if log_dir:
        smsbox += [f"log-file = {_quoted(log_dir + '/smsbox.log')}", f"log-level = {log_level}"]

    service = [
        "group = sms-service",
        "keyword = default",
        "catch-all = true",
        f"get-url = {_quoted(bridge_get_url(bridge_url))}",
        f"max-messages = {max_messages}",
        "concatenation = true",
        "omit-empty = true",
        "accept-x-kannel-headers = true",
    ]

    sendsms = [
        "group = sendsms-user",
        f"username = {_quoted(sendsms_user)}",
        f"password = {_quoted(sendsms_password)}",
        f"max-messages = {max_messages}",
        "concatenation = true",
        f"user-allow-ip = {_quoted(host)}",
        'user-deny-ip = "*.*.*.*"',
    ]

    header = "# kannel.conf for the MTS gateway bridge (generated by gateway_client.kannel_config)\n"
    return header + "\n\n".join("\n".join(group) for group in (core, smsc, smsbox, service, sendsms)) + "\n"
