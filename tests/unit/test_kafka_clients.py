"""A client.properties becomes the same login and trust for kafka-python, aiokafka and Faust."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.auth import SASLCredentials

from streams.kafka_clients import (
    ClientConfigError,
    aiokafka_kwargs,
    client_security,
    faust_credentials,
    kafka_python_kwargs,
    parse_jaas,
    parse_properties,
    read_properties,
)
from streams.settings import Settings, SettingsError

SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
DIRECTORY_PROVIDER = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"


def test_java_properties_syntax() -> None:
    text = (
        "# a comment\n"
        "! another\n"
        "bootstrap.servers = kafka1:9093,\\\n"
        "    kafka2:9093\n"
        "security.protocol:SASL_SSL\n"
        "sasl.mechanism SCRAM-SHA-512\n"
        "path=C:\\\\certs\\\\ca.pem\n"
        "empty=\n"
        "unicode=\\u4fdd\\u5c71\n"
        "key\\ with\\ spaces=x\n"
    )
    assert parse_properties(text) == {
        "bootstrap.servers": "kafka1:9093,kafka2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "path": "C:\\certs\\ca.pem",
        "empty": "",
        "unicode": "保山",
        "key with spaces": "x",
    }


def test_jaas_config_username_and_password() -> None:
    module, options = parse_jaas(
        f'{SCRAM} required username="bank-bscb" password="s3cr\\"et" tokenauth=false;'
    )
    assert module == SCRAM
    assert options == {"username": "bank-bscb", "password": 's3cr"et', "tokenauth": "false"}
    with pytest.raises(ClientConfigError, match=r"sasl\.jaas\.config"):
        parse_jaas(f'{SCRAM} required username="x" password="y"')  # no closing ';'


def write_client_files(tmp_path: Path, password: str = "hunter2") -> Path:
    """A bank's client.properties with its password in a secrets directory, as documented."""
    (tmp_path / "passwords").mkdir()
    (tmp_path / "passwords" / "bank-bscb").write_text(password)
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    properties = tmp_path / "client.properties"
    properties.write_text(
        "bootstrap.servers=kafka.example:9093\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "config.providers=dir\n"
        f"config.providers.dir.class={DIRECTORY_PROVIDER}\n"
        f'sasl.jaas.config={SCRAM} required username="bank-bscb" '
        f'password="${{dir:{tmp_path / "passwords"}:bank-bscb}}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={tmp_path / 'ca.pem'}\n"
    )
    return properties


def test_passwords_come_from_config_providers(tmp_path: Path) -> None:
    properties = write_client_files(tmp_path)
    security = client_security(read_properties(properties), str(properties))
    assert (security.protocol, security.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (security.username, security.password) == ("bank-bscb", "hunter2")
    assert security.ca_file == str(tmp_path / "ca.pem")
    assert "hunter2" not in repr(security)

    (tmp_path / "secrets.properties").write_text("bank.password=from-file\n")
    env_and_file = (
        "config.providers=env,file\n"
        "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
        "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n"
        "a=${env:BANK_PASSWORD}\n"
        f"b=${{file:{tmp_path / 'secrets.properties'}:bank.password}}\n"
    )
    (tmp_path / "other.properties").write_text(env_and_file)
    resolved = read_properties(tmp_path / "other.properties", env={"BANK_PASSWORD": "from-env"})
    assert (resolved["a"], resolved["b"]) == ("from-env", "from-file")


def test_unresolvable_variables_are_errors_naming_file_and_key(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("sasl.jaas.config=x password=${vault:secret/kafka:pw};\n")
    with pytest.raises(ClientConfigError, match=r"client\.properties: sasl\.jaas\.config: .*vault"):
        read_properties(properties)
    properties.write_text(
        "config.providers=env\n"
        "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
        "sasl.jaas.config=${env:NOT_SET_ANYWHERE}\n"
    )
    with pytest.raises(ClientConfigError, match="NOT_SET_ANYWHERE is not set"):
        read_properties(properties, env={})
    with pytest.raises(ClientConfigError, match="cannot read the file"):
        read_properties(tmp_path / "missing.properties")


@pytest.mark.parametrize(
    ("properties", "key"),
    [
        ({"security.protocol": "SASL_SSH"}, "security.protocol"),
        ({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}, "sasl.mechanism"),
        ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"}, "sasl.jaas.config"),
        (
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": f'{SCRAM} required username="a" password="b";',
            },
            "sasl.jaas.config",
        ),
        (
            {"security.protocol": "SSL", "ssl.truststore.location": "/x.jks"},
            "ssl.truststore.type",
        ),
        ({"security.protocol": "SSL", "ssl.keystore.password": "x"}, "ssl.keystore.password"),
        ({"sasl.jaas.config": f'{SCRAM} required username="a" password="b";'}, "sasl.jaas"),
    ],
)
def test_security_settings_fundwatch_cannot_honour_are_refused(
    properties: dict[str, str], key: str
) -> None:
    with pytest.raises(ClientConfigError) as refused:
        client_security(properties, "bank.properties")
    assert refused.value.key is not None and refused.value.key.startswith(key)
    assert str(refused.value).startswith("bank.properties: ")


def test_the_same_login_for_every_client_library(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(SELF_SIGNED_CA)
    properties = tmp_path / "client.properties"
    properties.write_text(
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        f'sasl.jaas.config={SCRAM} required username="fundwatch-worker" password="pw";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={ca}\n"
        "ssl.endpoint.identification.algorithm=\n"
    )
    settings = Settings(bootstrap_servers="k:9093", client_properties=str(properties))
    login = {
        "bootstrap_servers": "k:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "fundwatch-worker",
        "sasl_plain_password": "pw",
    }
    assert kafka_python_kwargs(settings) == {
        **login,
        "ssl_cafile": str(ca),
        "ssl_check_hostname": False,
    }
    aiokafka = aiokafka_kwargs(settings)
    context = aiokafka.pop("ssl_context")
    assert aiokafka == login
    assert isinstance(context, ssl.SSLContext) and not context.check_hostname
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )
    assert (credentials.username, credentials.password) == ("fundwatch-worker", "pw")


def test_no_client_properties_means_plaintext() -> None:
    settings = Settings(bootstrap_servers="127.0.0.1:9092")
    assert kafka_python_kwargs(settings) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert faust_credentials(settings) is None


def test_bootstrap_servers_from_the_properties_unless_the_environment_says(tmp_path: Path) -> None:
    properties = write_client_files(tmp_path)
    env = {"FUNDWATCH_CLIENT_PROPERTIES": str(properties)}
    assert Settings.from_env(env).bootstrap_servers == "kafka.example:9093"
    env["FUNDWATCH_BOOTSTRAP_SERVERS"] = "127.0.0.1:39492"
    assert Settings.from_env(env).bootstrap_servers == "127.0.0.1:39492"
    command_config = Settings().with_client_properties(str(properties), env={})
    assert command_config.bootstrap_servers == "kafka.example:9093"
    assert command_config.client_properties == str(properties)


def test_bank_topics_from_the_environment() -> None:
    settings = Settings.from_env({"FUNDWATCH_BANKS": "BSCB, ICBC-BS"})
    assert settings.topics.inputs == ("fundwatch.reports.BSCB", "fundwatch.reports.ICBC-BS")
    assert Settings.from_env({}).topics.inputs == ("fundwatch.reports",)
    for bad in ("dlq", "保山银行", "A,A"):
        with pytest.raises(SettingsError, match="FUNDWATCH_BANKS"):
            Settings.from_env({"FUNDWATCH_BANKS": bad})


# A CA certificate (public part only; its key was thrown away) for ssl.SSLContext to load.
SELF_SIGNED_CA = """-----BEGIN CERTIFICATE-----
MIIBmDCCAT2gAwIBAgIUMTeZauCdvDf+ZvHx2rUsUzpLbCswCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWZnVuZHdhdGNoIHVuaXQgdGVzdCBDQTAeFw0yNjExMjcwNTUx
MDBaFw0zNjExMjQwNTUxMDBaMCExHzAdBgNVBAMMFmZ1bmR3YXRjaCB1bml0IHRl
c3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATXjIbjPAVD5ubNEXwrF47G
UWsF6KoCV5yvgmFr5yFrxkCQhe1RqrxHaXbhtrm0/E1LVZU+7l86GAFRS2eD/XPe
o1MwUTAdBgNVHQ4EFgQUARKK1pJ54Sol4eOHELq8Z3BJStYwHwYDVR0jBBgwFoAU
ARKK1pJ54Sol4eOHELq8Z3BJStYwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD
AgNJADBGAiEA/xUe7rgnn/FwO9vKWRr7hkkNMMGnmv8uviRbcIkvZn4CIQDNJJWM
5aIGEfs1WyBnZuqipsaClLjuXY+Y8Ta8smhdoQ==
-----END CERTIFICATE-----
"""
