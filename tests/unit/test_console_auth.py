"""The web console's sign-in: password hashes, the users file, signed sessions, throttling."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import orjson
import pytest

from console.auth import (
    AuthError,
    ConsoleUser,
    LoginThrottle,
    SessionSigner,
    UsersFile,
    check_login,
    hash_password,
    load_users,
    password_problem,
    remove_user,
    save_users,
    upsert_user,
    verify_password,
)

FAST = 1_000  # iterations: the format and checks are the same, the tests stay quick
SECRET = b"0123456789abcdef0123456789abcdef"
NOW = 1_790_000_000.0


def user(
    name: str = "张伟", departments: tuple[str, ...] = ("pboc",), password: str = ""
) -> ConsoleUser:
    return ConsoleUser(
        name, frozenset(departments), hash_password(password or "a long password", FAST)
    )


def test_a_hash_has_the_standard_form_and_checks_only_its_password() -> None:
    encoded = hash_password("correct horse battery", FAST)
    scheme, iterations, salt, key = encoded.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", str(FAST))
    assert len(salt) == 32 and len(base64.b64decode(key)) == 32
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    # A fresh salt each time: the same password never gives the same hash.
    assert hash_password("correct horse battery", FAST) != encoded


def test_hashes_are_plain_pbkdf2_hmac_sha256() -> None:
    # RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64.
    key = bytes.fromhex(
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
    )
    encoded = f"pbkdf2_sha256$1$salt${base64.b64encode(key).decode()}"
    assert verify_password("passwd", encoded)
    assert not verify_password("password", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "pbkdf2_sha256$1000$salt",
        "pbkdf2_sha1$1000$salt$AAAA",
        "pbkdf2_sha256$many$salt$AAAA",
        "pbkdf2_sha256$0$salt$AAAA",
        "pbkdf2_sha256$1000$$AAAA",
        "pbkdf2_sha256$1000$salt$not base64!",
    ],
)
def test_a_malformed_hash_matches_no_password(encoded: str) -> None:
    assert not verify_password("", encoded)
    assert not verify_password("a long password", encoded)


def test_unknown_users_are_refused_like_wrong_passwords() -> None:
    assert check_login(user(password="the right one"), "the right one")
    assert not check_login(user(password="the right one"), "the wrong one")
    assert not check_login(None, "the right one")


def test_weak_passwords_are_refused() -> None:
    assert password_problem("short") is not None
    assert password_problem(" padded password ") is not None
    assert password_problem("long enough, really") is None


def test_users_need_a_name_known_departments_and_a_pbkdf2_hash() -> None:
    assert user("王芳", ("cbrc", "dfb")).departments == {"cbrc", "dfb"}
    with pytest.raises(AuthError, match="no spaces"):
        user("wang fang")
    with pytest.raises(AuthError, match="unknown department xx"):
        user(departments=("pboc", "xx"))
    with pytest.raises(AuthError, match="at least one department"):
        user(departments=())
    with pytest.raises(AuthError, match="pbkdf2_sha256"):
        ConsoleUser("wang", frozenset({"pboc"}), "plain text password")


def test_the_users_file_is_written_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "users.json"
    assert load_users(path) == {}
    assert upsert_user(path, user("张伟"))
    assert upsert_user(path, user("wang", ("cbrc",)))
    changed = user("wang", ("cbrc", "jrb"))
    assert not upsert_user(path, changed)  # replaced, not added
    users = load_users(path)
    assert set(users) == {"张伟", "wang"} and users["wang"] == changed
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["users.json"]  # no temporary left
    remove_user(path, "张伟")
    assert set(load_users(path)) == {"wang"}
    with pytest.raises(AuthError, match="no user nobody"):
        remove_user(path, "nobody")


def test_the_example_users_file_is_readable_and_its_demo_hash_opens_nothing() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "console-users.example.json"
    users = load_users(example)
    assert users
    for candidate in users.values():
        for guess in ("", "demo", "password", "demo-analyst", candidate.name):
            assert not verify_password(guess, candidate.password_hash)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"people": []}', "expected"),
        (b'{"users": [{"name": "a", "departments": ["pboc"]}]}', "lacks"),
        (b'{"users": [{"name": "a", "departments": "pboc", "password_hash": "x"}]}', "list"),
    ],
)
def test_a_malformed_users_file_is_an_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "users.json"
    path.write_bytes(content)
    with pytest.raises(AuthError, match=message):
        load_users(path)


def test_a_user_named_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    entry = user().to_dict()
    path.write_bytes(orjson.dumps({"users": [entry, entry]}))
    with pytest.raises(AuthError, match="twice"):
        load_users(path)


def departments(users: UsersFile, name: str) -> frozenset[str] | None:
    found = users.get(name)
    return found.departments if found is not None else None


def test_the_users_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    users = UsersFile(path)
    assert users.get("wang") is None
    save_users(path, [user("wang", ("cbrc",))])
    assert departments(users, "wang") == {"cbrc"}
    save_users(path, [user("wang", ("jrb",))])  # a new file under the same name
    assert departments(users, "wang") == {"jrb"}
    os.unlink(path)
    assert users.get("wang") is None


def test_a_session_cookie_names_its_user_until_it_expires(tmp_path: Path) -> None:
    signer = SessionSigner(SECRET, lifetime_seconds=3600)
    analyst = user()
    cookie = signer.issue(analyst, NOW)
    session = signer.read(cookie, NOW + 10)
    assert session is not None and session.user_name == analyst.name
    assert signer.read(cookie, NOW + 3600) is None  # expired
    assert signer.read(None, NOW) is None
    assert signer.read("", NOW) is None
    assert signer.read("no-dot", NOW) is None
    assert signer.read(cookie + "x", NOW) is None
    # Another secret (another deployment, or a restarted worker without one): refused.
    assert SessionSigner(b"another secret, 32 bytes long...").read(cookie, NOW) is None


def test_a_forged_session_is_refused() -> None:
    signer = SessionSigner(SECRET)
    payload, signature = signer.issue(user("wang", ("cbrc",)), NOW).split(".")
    body = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["u"] = "张伟"  # pretend to be the PBOC user
    forged = base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode()
    assert signer.read(f"{forged}.{signature}", NOW) is None


def test_a_new_password_or_a_removed_user_ends_the_session(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    signer = SessionSigner(SECRET)
    analyst = user("wang", ("cbrc",), password="first password")
    save_users(path, [analyst])
    users = UsersFile(path)
    session = signer.read(signer.issue(analyst, NOW), NOW)
    found = signer.user_of(session, users)
    assert found is not None and found[1].departments == {"cbrc"}
    save_users(path, [user("wang", ("cbrc",), password="second password")])
    assert signer.user_of(session, users) is None
    save_users(path, [])
    assert signer.user_of(signer.read(signer.issue(analyst, NOW), NOW), users) is None


def test_the_csrf_token_belongs_to_one_session() -> None:
    signer = SessionSigner(SECRET)
    first = signer.read(signer.issue(user(), NOW), NOW)
    second = signer.read(signer.issue(user(), NOW), NOW)
    assert first is not None and second is not None
    token = signer.csrf_token(first)
    assert signer.check_csrf(first, token)
    assert not signer.check_csrf(second, token)
    assert not signer.check_csrf(first, None)
    assert not signer.check_csrf(first, "")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(AuthError, match="16 bytes"):
        SessionSigner(b"short")


def test_repeated_failures_block_a_name_for_a_while() -> None:
    throttle = LoginThrottle(max_failures=3, window_seconds=60)
    for i in range(3):
        assert not throttle.blocked("wang", NOW + i)
        throttle.failed("wang", NOW + i)
    assert throttle.blocked("wang", NOW + 10)
    assert not throttle.blocked("zhang", NOW + 10)  # per name
    assert not throttle.blocked("wang", NOW + 70)  # the failures aged out
    throttle.failed("wang", NOW + 80)
    throttle.succeeded("wang")
    assert not throttle.blocked("wang", NOW + 81)
