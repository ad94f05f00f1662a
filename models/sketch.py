"""Small counting structures for the per-account state.

- ``counterparty_hash``: one 64-bit hash of a counterparty account; its low bits feed the
  HyperLogLog, its high 32 bits key the windowed counterparty maps.
- ``HyperLogLog``: lifetime distinct payers. Exact up to 64 payers (it keeps their hashes),
  then 512 one-byte registers: standard error 1.04/sqrt(512) = 4.6 %.
- ``union_estimate``: distinct payers of several accounts together (a scheme's participants,
  each counted once whichever collecting account they paid).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

HLL_BITS = 9
HLL_REGISTERS = 1 << HLL_BITS
_ALPHA = 0.7213 / (1 + 1.079 / HLL_REGISTERS)


def counterparty_hash(account: str) -> int:
    return int.from_bytes(hashlib.blake2b(account.encode(), digest_size=8).digest(), "little")


def short_hash(full_hash: int) -> int:
    """32 bits of the hash, the key of the windowed maps (collisions: ~1e-4 at 1,000 keys)."""
    return full_hash >> 32


EXACT_LIMIT = 64


RANK_BITS = 56  # a rank is at most 56 (55 hash bits above the register index, plus one)


class HyperLogLog:
    # The harmonic sum and the empty-register count are kept up to date on each change, so an
    # estimate per report costs O(1) instead of a pass over 512 registers. The sum is an
    # integer, sum of 2^(56 - rank), so it is exact: an updated sketch and the same sketch
    # decoded from its registers give the same estimate to the last bit.
    __slots__ = ("_empty", "_harmonic", "exact", "registers")

    def __init__(self, registers: bytes | None = None, exact: set[int] | None = None) -> None:
        if registers is None:
            self.registers = bytearray(HLL_REGISTERS)
            self._harmonic = HLL_REGISTERS << RANK_BITS
            self._empty = HLL_REGISTERS
        else:
            self.registers = bytearray(registers)
            if len(self.registers) != HLL_REGISTERS:
                raise ValueError(f"HyperLogLog needs {HLL_REGISTERS} registers")
            self._harmonic = sum(
                self.registers.count(rank) << (RANK_BITS - rank) for rank in set(self.registers)
            )
            self._empty = self.registers.count(0)
        # The hashes themselves while there are few (None once past EXACT_LIMIT).
        self.exact: set[int] | None = set() if registers is None and exact is None else exact
        for full_hash in exact or ():
            self._add_register(full_hash)

    def add(self, full_hash: int) -> bool:
        """Whether the sketch changed (a payer seen before changes nothing: a copy of the
        sketch taken before is still equal to it)."""
        changed = False
        exact = self.exact
        if exact is not None and full_hash not in exact:
            exact.add(full_hash)
            changed = True
            if len(exact) > EXACT_LIMIT:
                self.exact = None
        return self._add_register(full_hash) or changed

    def _add_register(self, full_hash: int) -> bool:
        index = full_hash & (HLL_REGISTERS - 1)
        rest = full_hash >> HLL_BITS  # 55 bits
        rank = RANK_BITS - rest.bit_length() if rest else RANK_BITS
        old = self.registers[index]
        if rank > old:
            self.registers[index] = rank
            self._harmonic += (1 << (RANK_BITS - rank)) - (1 << (RANK_BITS - old))
            self._empty -= old == 0
            return True
        return False

    def estimate(self) -> int:
        if self.exact is not None:
            return len(self.exact)
        raw = _ALPHA * HLL_REGISTERS * HLL_REGISTERS * (1 << RANK_BITS) / self._harmonic
        if raw <= 2.5 * HLL_REGISTERS and self._empty:
            return round(HLL_REGISTERS * math.log(HLL_REGISTERS / self._empty))
        return round(raw)

    def to_text(self) -> str:
        """The hashes while exact ("x" and hex hashes), else the registers in hex."""
        if self.exact is not None:
            return "x" + ",".join(f"{h:x}" for h in sorted(self.exact))
        return self.registers.hex()

    def copy(self) -> HyperLogLog:
        """An independent copy (a snapshot keeps the sketch as of one report)."""
        other = HyperLogLog.__new__(HyperLogLog)
        other.registers = bytearray(self.registers)
        other._harmonic = self._harmonic
        other._empty = self._empty
        other.exact = set(self.exact) if self.exact is not None else None
        return other

    def merge(self, other: HyperLogLog) -> None:
        """Add every payer of ``other`` (the union of the two sets)."""
        if self.exact is not None and other.exact is not None:
            for full_hash in other.exact:
                self.add(full_hash)
            return
        self.exact = None
        for index, rank in enumerate(other.registers):
            old = self.registers[index]
            if rank > old:
                self.registers[index] = rank
                self._harmonic += (1 << (RANK_BITS - rank)) - (1 << (RANK_BITS - old))
                self._empty -= old == 0

    @classmethod
    def from_text(cls, text: str) -> HyperLogLog:
        if text.startswith("x"):
            return cls(exact={int(h, 16) for h in text[1:].split(",") if h})
        return cls(bytes.fromhex(text))


def union_estimate(texts: Iterable[str]) -> int:
    """Distinct payers over several sketches (``HyperLogLog.to_text``), each counted once."""
    union = HyperLogLog()
    for text in texts:
        union.merge(HyperLogLog.from_text(text))
    return union.estimate()
