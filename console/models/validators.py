"""Field validators whose messages tell the user what to type instead."""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from console import engine_addresses
from console.engine_addresses import IpAddress, IpNetwork
from engines.launcher.spec import managed_flag_problem, secret_flag


def validate_base_url(value: str) -> None:
    """An engine's address: ``http(s)://host[:port]``, nothing after it.

    The console appends ``/health``, ``/sleep``, ``/v1/...`` itself, and credentials belong
    in the API key field, where they are kept secret.
    """
    refuse_nul([value])
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"}:
        raise ValidationError("Use an http:// or https:// URL, e.g. http://gpu-1:8000.")
    if not parts.hostname:
        raise ValidationError("The URL has no host, e.g. http://gpu-1:8000.")
    if parts.username or parts.password:
        raise ValidationError("Put no credentials in the URL; use the API key field.")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValidationError("The port is not a number, e.g. http://gpu-1:8000.") from None
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValidationError(
            "Give only the scheme, host and port (http://gpu-1:8000), without a path."
        )
    refuse_outside_engine_addresses(parts.hostname, url_port(parts))


def url_port(parts: SplitResult) -> int:
    """The port a client connects to: the URL's, else the scheme's default."""
    return parts.port or (443 if parts.scheme == "https" else 80)


def refuse_outside_engine_addresses(host: str, port: int) -> None:
    """Engines only where the settings allow: another local service would get the
    console's probes, sleep calls and gateway traffic, with the engine's API key."""
    try:
        address = engine_addresses.host_address(host)
    except ValueError as error:
        raise ValidationError(f"{error}.") from None
    if port not in settings.CONSOLE_ENGINE_PORTS:
        raise ValidationError(
            f"Port {port} is not one engines may use (CONSOLE_ENGINE_PORTS="
            f"{settings.CONSOLE_ENGINE_PORTS.text}): it is kept for other services such as "
            "Redis or PostgreSQL. Give the port the engine listens on, or ask the console's "
            "operator to allow it in CONSOLE_ENGINE_PORTS."
        )
    if settings.CONSOLE_ENGINE_NETWORKS is not None:
        _refuse_outside_networks(host, address, settings.CONSOLE_ENGINE_NETWORKS)


def _refuse_outside_networks(
    host: str, address: IpAddress | None, networks: tuple[IpNetwork, ...]
) -> None:
    found = [address] if address is not None else engine_addresses.resolved_addresses(host)
    outside = [str(each) for each in found if not any(each in net for net in networks)]
    if found and not outside:
        return
    if not found:
        where = f"{host} does not resolve, so it is not known to be"
    elif address is None:
        where = f"{host} ({', '.join(outside)}) is not"
    else:
        where = f"{address} is not"
    allowed = ",".join(str(network) for network in networks)
    raise ValidationError(
        f"{where} within the networks engines may be on (CONSOLE_ENGINE_NETWORKS={allowed}); "
        "ask the console's operator to add it there."
    )


def refuse_console_itself(value: str, console_port: int) -> None:
    """A base URL on this machine's loopback at the port the console answers on is the
    console: it would proxy its own gateway traffic to itself and get the engine's key."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if engine_addresses.is_local(host) and url_port(parts) == console_port:
        raise ValidationError(
            f"{host}:{console_port} is this console itself, not an engine; give the "
            "address the engine listens on."
        )


def validate_string_list(value: Any) -> None:
    """Launch arguments: a JSON list of strings, one argument each."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError('Give a list of strings, e.g. ["--max-model-len", "8192"].')
    refuse_nul(value)
    for item in value:
        refuse_secret_flag(item)
        refuse_managed_flag(item)


def refuse_secret_flag(arg: str) -> None:
    """Arguments are shown to every viewer: a secret flag, however spelt, goes elsewhere."""
    secret = secret_flag(arg)
    if secret is None:
        return
    # Only the flag's name is echoed: what follows "=" is the secret itself.
    written = arg.split("=", 1)[0]
    said = secret if written == secret else f"{written} (read by vLLM as {secret})"
    raise ValidationError(
        f"{said} is a secret and arguments are shown to every viewer: set the engine API "
        "key in the API key field (api_key) and other secrets in the launch environment "
        "(launch_env, e.g. HF_TOKEN), not in arguments."
    )


def refuse_managed_flag(arg: str) -> None:
    """Flags the console sets when it launches the engine cannot be overridden."""
    problem = managed_flag_problem(arg)
    if problem is not None:
        raise ValidationError(
            f"{problem} is set by the console when it launches the engine; use the "
            "instance's base URL, served model name, model and GPU memory fields instead."
        )


def validate_string_map(value: Any) -> None:
    """Launch environment: a JSON object of string names to string values."""
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ValidationError('Give an object of strings, e.g. {"HF_HOME": "/models"}.')
    refuse_nul([*value, *value.values()])


def refuse_nul(strings: list[str]) -> None:
    """PostgreSQL stores no NUL character in text or JSON: refuse it with a clear message."""
    if any("\x00" in item for item in strings):
        raise ValidationError("Strings cannot contain NUL characters.")
