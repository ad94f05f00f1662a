"""Which partition an account's reports go to: the message key and Kafka's default partitioner.

Pure, so the offline replay can split accounts exactly as the broker does.
"""

from __future__ import annotations

import re

import orjson

# The account_id member of a report line, written plainly: no escape in the name or the value.
_PLAIN_ACCOUNT_MEMBER = re.compile(rb'"account_id"[ \t\r\n]*:[ \t\r\n]*"([^"\\]*)"')


def account_key(line: bytes) -> bytes | None:
    """The message key of a report line: its account_id, as the schema requires."""
    return key_and_bank(line)[0]


def routing_key(line: bytes) -> bytes | None:
    """Where a report line goes, without decoding all of it: ``account_key(line)`` for every
    valid report. A line naming ``"account_id"`` once, plainly, is routed by that value
    (a valid report names it once, at the top: a second one in a nested value, or an escape,
    and the line is decoded); a line that is no report is still routed to one place only."""
    if line.count(b'"account_id"') == 1:
        plain = _PLAIN_ACCOUNT_MEMBER.search(line)
        if plain is not None:
            return plain.group(1)
    return account_key(line)


def key_and_bank(line: bytes) -> tuple[bytes | None, str | None]:
    """The account_id (as a message key) and bank_id of a report line, where readable."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    account, bank = record.get("account_id"), record.get("bank_id")
    return (
        account.encode() if isinstance(account, str) else None,
        bank if isinstance(bank, str) else None,
    )


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of a key (the Java client's ``Utils.murmur2``), unsigned."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    tail = length & ~3
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a keyed message."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
