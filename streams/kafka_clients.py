"""Kafka client settings from a standard ``client.properties`` file, for every client fundwatch
builds: kafka-python (tools, the bank-side producer), aiokafka (the worker's followers) and
Faust (``broker_credentials``).

A bank's or a regulator's own Kafka client and fundwatch read the same file: the standard Kafka
client property names, and Kafka's built-in config providers (``${dir:...}``, ``${file:...}``,
``${env:...}``) so that passwords stay out of it. The file is named by
``FUNDWATCH_CLIENT_PROPERTIES`` (``Settings.client_properties``) or by ``--command-config FILE``
on ``fundwatch produce`` and ``fundwatch leads``, like Kafka's own command-line tools.

Read: ``bootstrap.servers``, ``security.protocol``, ``sasl.mechanism``, ``sasl.jaas.config``
(username and password of the PLAIN or SCRAM login module), ``ssl.truststore.type`` (PEM) and
``ssl.truststore.location``, ``ssl.endpoint.identification.algorithm``, and a PEM
``ssl.keystore.*`` for a client certificate. Other keys (``acks``, ``linger.ms`` ...) are
ignored: fundwatch sets its own. Security keys fundwatch cannot honour are errors, never
silently dropped.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context
from faust.auth import Credentials, SASLCredentials, SSLCredentials

from schemas.errors import FundwatchError
from streams.settings import Settings

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# The login module each mechanism's sasl.jaas.config must name.
LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
# Kafka's built-in config providers (org.apache.kafka.common.config.provider).
PROVIDER_CLASSES = {
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider": "directory",
    "org.apache.kafka.common.config.provider.FileConfigProvider": "file",
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider": "env",
}
# Kafka's ConfigTransformer pattern: ${provider:[path:]key}.
VARIABLE = re.compile(r"\$\{(.*?):((.*?):)?(.*?)\}")
# Keys that decide who the client is or whom it trusts: one fundwatch cannot honour stops it.
HANDLED_SECURITY_KEYS = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.jaas.config",
        "ssl.truststore.type",
        "ssl.truststore.location",
        "ssl.endpoint.identification.algorithm",
        "ssl.keystore.type",
        "ssl.keystore.location",
        "ssl.key.password",
    }
)
REFUSED_SECURITY_KEYS = frozenset(
    {
        "ssl.truststore.certificates",
        "ssl.truststore.password",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.keystore.password",
        "sasl.client.callback.handler.class",
        "sasl.login.class",
        "sasl.login.callback.handler.class",
    }
)


class ClientConfigError(FundwatchError, ValueError, http_status=500):
    """A client.properties fundwatch cannot use; the message names the file and the key."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    """How a client authenticates and what it trusts; the default is plaintext, no login."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = None
    # PEM file of the CAs to trust; None: the system's CAs.
    ca_file: str | None = None
    check_hostname: bool = True
    # PEM file holding the client's certificate chain and private key (mutual TLS).
    client_cert_file: str | None = None
    client_key_password: str | None = None
    bootstrap_servers: str | None = None
    source: str = "<defaults>"

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def __repr__(self) -> str:  # never print the password
        return (
            f"ClientSecurity(protocol={self.protocol}, mechanism={self.sasl_mechanism}, "
            f"username={self.username}, ca_file={self.ca_file}, source={self.source})"
        )


# ---------------------------------------------------------------- the properties file


def parse_properties(text: str, source: str = "<text>") -> dict[str, str]:
    """Parse java.util.Properties text: ``key=value``, ``key: value`` or ``key value``,
    ``#``/``!`` comments, backslash line continuations and escapes."""
    properties: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].lstrip(" \t\f")
        index += 1
        if not line or line[0] in "#!":
            continue
        # A line ending in an odd number of backslashes continues on the next one.
        while _continues(line) and index < len(lines):
            line = line[:-1] + lines[index].lstrip(" \t\f")
            index += 1
        if _continues(line):
            line = line[:-1]
        key, value = _split_entry(line)
        properties[_unescape(key, source)] = _unescape(value, source)
    return properties


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_entry(line: str) -> tuple[str, str]:
    position = 0
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char in "=: \t\f":
            break
        position += 1
    # The separator is "=", ":" or whitespace, optionally followed by one "=" or ":".
    rest = line[position:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return line[:position], rest


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str, source: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char != "\\" or position + 1 >= len(text):
            out.append(char)
            position += 1
            continue
        escaped = text[position + 1]
        if escaped == "u":
            digits = text[position + 2 : position + 6]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise ClientConfigError(source, None, f"malformed \\u escape in {text!r}")
            out.append(chr(int(digits, 16)))
            position += 6
            continue
        out.append(_ESCAPES.get(escaped, escaped))
        position += 2
    return "".join(out)


def read_properties(path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The file's properties with config-provider variables resolved."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientConfigError(source, None, f"cannot read the file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ClientConfigError(source, None, "not UTF-8 text") from exc
    return resolve_variables(parse_properties(text, source), source, env)


# ---------------------------------------------------------------- config providers


def resolve_variables(
    properties: Mapping[str, str], source: str, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Replace ``${provider:[path:]key}`` as Kafka's ConfigTransformer does, with the
    providers the file declares (``config.providers``); an unresolved one is an error here
    (Kafka would leave it in place and fail later at login)."""
    env = os.environ if env is None else env
    providers = _declared_providers(properties, source)
    resolved: dict[str, str] = {}
    for key, value in properties.items():
        if key.startswith("config.providers"):
            resolved[key] = value
            continue

        def lookup(match: re.Match[str], key: str = key) -> str:
            alias, path, name = match.group(1), match.group(3) or "", match.group(4)
            kind = providers.get(alias)
            if kind is None:
                raise ClientConfigError(
                    source, key, f"${{{alias}:...}} but no config provider {alias!r} is declared"
                )
            return _provide(kind, path, name, source, key, env)

        resolved[key] = VARIABLE.sub(lookup, value)
    return resolved


def _declared_providers(properties: Mapping[str, str], source: str) -> dict[str, str]:
    aliases = [a.strip() for a in properties.get("config.providers", "").split(",") if a.strip()]
    providers: dict[str, str] = {}
    for alias in aliases:
        class_key = f"config.providers.{alias}.class"
        class_name = properties.get(class_key, "").strip()
        kind = PROVIDER_CLASSES.get(class_name)
        if kind is None:
            raise ClientConfigError(
                source,
                class_key,
                f"{class_name or 'no class'}: fundwatch knows Kafka's built-in providers "
                f"only ({', '.join(sorted(PROVIDER_CLASSES))})",
            )
        providers[alias] = kind
    return providers


def _provide(kind: str, path: str, name: str, source: str, key: str, env: Mapping[str, str]) -> str:
    if kind == "env":
        if path:
            raise ClientConfigError(source, key, "the env provider takes no path: ${env:NAME}")
        if name not in env:
            raise ClientConfigError(source, key, f"environment variable {name} is not set")
        return env[name]
    if kind == "directory":
        file = Path(path) / name
        try:
            # As Kafka's DirectoryConfigProvider: the file's whole content, newline included.
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ClientConfigError(source, key, f"cannot read {file}: {exc.strerror}") from exc
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientConfigError(source, key, f"cannot read {path}: {exc.strerror}") from exc
    values = parse_properties(text, path)
    if name not in values:
        raise ClientConfigError(source, key, f"{path} has no key {name!r}")
    return values[name]


# ---------------------------------------------------------------- properties -> security


def client_security(properties: Mapping[str, str], source: str) -> ClientSecurity:
    """Check the security properties and turn them into one ClientSecurity."""
    refused = sorted(k for k in properties if k in REFUSED_SECURITY_KEYS)
    if refused:
        raise ClientConfigError(
            source,
            refused[0],
            "not supported by fundwatch's Python clients: give the trust store and any client "
            "certificate as PEM files (ssl.truststore.type=PEM, ssl.keystore.type=PEM)",
        )
    protocol = properties.get("security.protocol", "PLAINTEXT").strip().upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ClientConfigError(
            source,
            "security.protocol",
            f"{protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}",
        )
    security = ClientSecurity(
        protocol=protocol,
        bootstrap_servers=properties.get("bootstrap.servers", "").strip() or None,
        source=source,
    )
    if security.uses_sasl:
        security = _with_sasl(security, properties, source)
    elif "sasl.jaas.config" in properties:
        raise ClientConfigError(
            source, "sasl.jaas.config", f"given, but security.protocol={protocol} does no SASL"
        )
    if security.uses_tls:
        security = _with_tls(security, properties, source)
    return security


def _with_sasl(
    security: ClientSecurity, properties: Mapping[str, str], source: str
) -> ClientSecurity:
    mechanism = properties.get("sasl.mechanism", "GSSAPI").strip().upper()
    if mechanism not in SASL_MECHANISMS:
        raise ClientConfigError(
            source,
            "sasl.mechanism",
            f"{mechanism!r}: fundwatch supports {', '.join(SASL_MECHANISMS)}",
        )
    jaas = properties.get("sasl.jaas.config")
    if not jaas:
        raise ClientConfigError(source, "sasl.jaas.config", f"required with {mechanism}")
    module, options = parse_jaas(jaas, source)
    if module != LOGIN_MODULES[mechanism]:
        raise ClientConfigError(
            source,
            "sasl.jaas.config",
            f"{mechanism} needs {LOGIN_MODULES[mechanism]}, not {module}",
        )
    for option in ("username", "password"):
        if not options.get(option):
            raise ClientConfigError(source, "sasl.jaas.config", f"no {option}")
    return replace(
        security,
        sasl_mechanism=mechanism,
        username=options["username"],
        password=options["password"],
    )


def _with_tls(
    security: ClientSecurity, properties: Mapping[str, str], source: str
) -> ClientSecurity:
    location = properties.get("ssl.truststore.location", "").strip() or None
    # Java's default trust store type is JKS, so a location without a type is a JKS file.
    store_type = properties.get("ssl.truststore.type", "JKS").strip().upper()
    if location and store_type != "PEM":
        raise ClientConfigError(
            source,
            "ssl.truststore.type",
            f"{store_type}: fundwatch's Python clients read the CA certificates as PEM "
            "(ssl.truststore.type=PEM; Java clients read PEM too)",
        )
    if location and not Path(location).is_file():
        raise ClientConfigError(source, "ssl.truststore.location", f"no file {location}")
    identification = properties.get("ssl.endpoint.identification.algorithm", "https").strip()
    if identification.lower() not in ("", "https"):
        raise ClientConfigError(
            source, "ssl.endpoint.identification.algorithm", f"{identification!r}: https or empty"
        )
    cert_file = properties.get("ssl.keystore.location", "").strip() or None
    if cert_file:
        keystore_type = properties.get("ssl.keystore.type", "").strip().upper()
        if keystore_type != "PEM":
            raise ClientConfigError(
                source,
                "ssl.keystore.type",
                f"{keystore_type or 'JKS (the default)'}: fundwatch reads a client certificate "
                "and key from one PEM file (ssl.keystore.type=PEM)",
            )
        if not Path(cert_file).is_file():
            raise ClientConfigError(source, "ssl.keystore.location", f"no file {cert_file}")
    return replace(
        security,
        ca_file=location,
        check_hostname=identification.lower() == "https",
        client_cert_file=cert_file,
        client_key_password=properties.get("ssl.key.password") or None,
    )


_JAAS = re.compile(r"^\s*(?P<module>[\w.$]+)\s+(?P<flag>required|requisite|sufficient|optional)")
_JAAS_OPTION = re.compile(r'\s*([\w.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))')


def parse_jaas(text: str, source: str = "<text>") -> tuple[str, dict[str, str]]:
    """The login module and its options of one ``sasl.jaas.config`` entry."""
    head = _JAAS.match(text)
    if head is None:
        raise ClientConfigError(
            source, "sasl.jaas.config", "expected '<LoginModule> required key=\"value\" ...;'"
        )
    options: dict[str, str] = {}
    position = head.end()
    while True:
        option = _JAAS_OPTION.match(text, position)
        if option is None:
            break
        quoted, bare = option.group(2), option.group(3)
        options[option.group(1)] = (
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
        )
        position = option.end()
    if text[position:].strip() != ";":
        raise ClientConfigError(
            source, "sasl.jaas.config", f"cannot read it from {text[position:].strip()[:20]!r}"
        )
    return head.group("module"), options


# ---------------------------------------------------------------- settings -> client kwargs


def load_client_security(settings: Settings) -> ClientSecurity:
    """The security of ``settings.client_properties`` (plaintext when none is named)."""
    if not settings.client_properties:
        return ClientSecurity()
    path = settings.client_properties
    return client_security(read_properties(path), path)


def _sasl_kwargs(settings: Settings, security: ClientSecurity) -> dict[str, Any]:
    """What kafka-python and aiokafka name alike: servers, protocol and SASL login."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": security.protocol,
    }
    if security.uses_sasl:
        kwargs.update(
            sasl_mechanism=security.sasl_mechanism,
            sasl_plain_username=security.username,
            sasl_plain_password=security.password,
        )
    return kwargs


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """``bootstrap_servers`` and the security keyword arguments of a kafka-python client
    (KafkaProducer, KafkaConsumer, KafkaAdminClient)."""
    security = load_client_security(settings)
    kwargs = _sasl_kwargs(settings, security)
    if security.uses_tls:
        kwargs.update(ssl_cafile=security.ca_file, ssl_check_hostname=security.check_hostname)
        if security.client_cert_file:
            kwargs.update(
                ssl_certfile=security.client_cert_file,
                ssl_keyfile=security.client_cert_file,
                ssl_password=security.client_key_password,
            )
    return kwargs


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """``bootstrap_servers`` and the security keyword arguments of an aiokafka client."""
    security = load_client_security(settings)
    kwargs = _sasl_kwargs(settings, security)
    if security.uses_tls:
        kwargs["ssl_context"] = tls_context(security)
    return kwargs


def tls_context(security: ClientSecurity) -> ssl.SSLContext:
    context = create_ssl_context(
        cafile=security.ca_file,
        certfile=security.client_cert_file,
        keyfile=security.client_cert_file,
        password=security.client_key_password,
    )
    if not security.check_hostname:
        context.check_hostname = False
    return context


def faust_credentials(settings: Settings) -> Credentials | None:
    """Faust's ``broker_credentials`` for the worker (None: plaintext)."""
    security = load_client_security(settings)
    if security.uses_sasl:
        return SASLCredentials(
            username=security.username,
            password=security.password,
            mechanism=security.sasl_mechanism,
            ssl_context=tls_context(security) if security.uses_tls else None,
        )
    if security.uses_tls:
        return SSLCredentials(tls_context(security))
    return None
