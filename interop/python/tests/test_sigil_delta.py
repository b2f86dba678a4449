"""Revocation deltas (docs/FORMAT.md §4.3): every vector of Tests/Vectors/revocation-deltas-v1.json,
the store applying deltas atomically against the list in force, merges checked against a
builder, and damaged deltas that must only ever be refused.

    python3 -m pytest -q interop/python/tests/test_sigil_delta.py
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest
from conftest import REPO, make_delta, python_env

import sigil_verify as sv
from sigil_verify import ed25519

DELTA_VECTORS = REPO / "Tests" / "Vectors" / "revocation-deltas-v1.json"
REGENERATE = "SIGIL_REGENERATE_VECTORS=1 swift test --filter VectorFileTests"
#: Every reason §4.3 names, in its order.
DELTA_REASONS = (
    "too_large",
    "malformed",
    "unsupported_version",
    "delta_base_mismatch",
    "unknown_key",
    "bad_signature",
    "rollback",
    "equivocation",
)

SEED = b"\x11" * 32
KEYS = {"r1": ed25519.public_key(SEED)}


def g(n: int) -> bytes:
    return n.to_bytes(16, "big")


def build_list(entries: Sequence[Tuple[bytes, int]], sequence: int, next_update: int = 0, kid: str = "r1") -> bytes:
    k = kid.encode()
    items = sorted(entries)
    body = b"SGLR\x01" + bytes([len(k)]) + k
    body += struct.pack(">QqqI", sequence, 1767225600 + sequence, next_update, len(items))
    body += b"".join(guid + bytes([s]) for guid, s in items)
    return body + ed25519.sign(SEED, sv.REVOCATION_CONTEXT + body)


def store_with(base: Optional[bytes], **kw: Any) -> sv.RevocationStore:
    """A store whose list in force is `base` (verified under the default limit)."""
    initial = sv.parse_revocation_list(base, KEYS) if base is not None else None
    return sv.RevocationStore(KEYS, initial=initial, **kw)


# ---------------------------------------------------------------------------------------------
# The vector file (§7.3)


def _cases() -> List[Dict[str, Any]]:
    if not DELTA_VECTORS.exists():
        return []
    data = json.loads(DELTA_VECTORS.read_text())
    assert data["format"] == "sigil-revocation-delta-vectors-v1"
    vectors: List[Dict[str, Any]] = data["vectors"]
    return vectors


CASES = _cases()
needs_vectors = pytest.mark.skipif(not CASES, reason=f"{DELTA_VECTORS.name} is missing; generate it with: {REGENERATE}")


@needs_vectors
def test_the_vectors_cover_every_reason_of_section_4_3() -> None:
    covered = {v["expected"]["reason"] for v in CASES if not v["expected"]["valid"]}
    assert covered == set(DELTA_REASONS)
    assert covered <= set(sv.LIST_REASONS)
    assert any(v["expected"]["valid"] for v in CASES)


@needs_vectors
@pytest.mark.parametrize("vector", [pytest.param(v, id=v["name"]) for v in CASES])
def test_delta_vector(vector: Dict[str, Any], ed_backend: str) -> None:
    keys = {k["kid"]: bytes.fromhex(k["public_key_hex"]) for k in vector["public_keys"]}
    base = None if vector["base_hex"] is None else sv.parse_revocation_list(bytes.fromhex(vector["base_hex"]), keys)
    delta = bytes.fromhex(vector["delta_hex"])
    exp = vector["expected"]
    events: List[sv.Outcome] = []
    store = sv.RevocationStore(keys, max_bytes=vector["max_bytes"], initial=base, on_event=events.append)
    outcome = store.offer(delta)
    assert events == [outcome]
    if exp["valid"]:
        assert (outcome.kind, outcome.error, outcome.delta) == ("installed", None, True), vector["description"]
        assert store.current is not None and store.current.raw.hex() == exp["list_hex"]
        # The rebuilt list is the list the issuer signed: it verifies as a full list.
        full = sv.parse_revocation_list(bytes.fromhex(exp["list_hex"]), keys)
        assert (store.current.sequence, store.current.entries) == (full.sequence, full.entries)
        assert store.current.next_update == full.next_update and store.current.kid == full.kid
    else:
        # Bytes without the SGLD magic are read as a full list: malformed either way.
        assert outcome.kind == "refused" and outcome.delta == sv.is_revocation_delta(delta), vector["description"]
        assert outcome.error is not None and outcome.error.reason == exp["reason"], vector["description"]
        assert exp["list_hex"] is None
        assert store.current is base  # the list in force is unchanged
        # load() raises the same refusal and still changes nothing.
        with pytest.raises(sv.RevocationListError) as e:
            store.load(delta)
        assert e.value.reason == exp["reason"]
        assert store.current is base and (base is None or base.raw.hex() == vector["base_hex"])

    # The same outcome through RevocationDelta directly (rollback and equivocation are the
    # store's checks: apply() alone makes that list).
    try:
        made = sv.RevocationDelta.parse(delta, vector["max_bytes"]).apply(base, keys, vector["max_bytes"])
    except sv.RevocationListError as e:
        assert e.reason == exp["reason"] and e.reason not in ("rollback", "equivocation")
    else:
        assert exp["valid"] or exp["reason"] in ("rollback", "equivocation")
        if exp["valid"]:
            assert made.raw.hex() == exp["list_hex"] and made.verified


@needs_vectors
def test_a_delta_vector_through_load_after_a_list_loaded_under_the_default_limit() -> None:
    # FORMAT.md §7.3 literally: the base is loaded under the default limit, then the delta
    # under max_bytes; the list in force is not re-checked against the smaller limit.
    for vector in CASES:
        if vector["base_hex"] is None:
            continue
        keys = {k["kid"]: bytes.fromhex(k["public_key_hex"]) for k in vector["public_keys"]}
        store = sv.RevocationStore(keys)
        base = store.load(bytes.fromhex(vector["base_hex"]))
        store.max_bytes = vector["max_bytes"]
        outcome = store.offer(bytes.fromhex(vector["delta_hex"]))
        exp = vector["expected"]
        assert (outcome.error.reason if outcome.error else None) == exp["reason"], vector["name"]
        assert store.current is not None
        assert store.current.raw.hex() == (exp["list_hex"] or vector["base_hex"])
        assert exp["valid"] or store.current is base


# ---------------------------------------------------------------------------------------------
# The store


def test_deltas_follow_each_other_and_a_full_list_still_loads() -> None:
    l1 = build_list([(g(1), 1), (g(5), 2)], sequence=1)
    l2 = build_list([(g(1), 2), (g(5), 2), (g(9), 1)], sequence=2, next_update=1767300000)
    l3 = build_list([(g(9), 1)], sequence=3)
    l4 = build_list([], sequence=4)
    store = store_with(None)
    assert store.offer(make_delta(l1, l2)).error.reason == "delta_base_mismatch"  # type: ignore[union-attr]
    assert store.load(l1).sequence == 1
    d12 = make_delta(l1, l2)
    assert len(d12) == 46 + 2 + 17 * 2 + 64
    assert store.load(d12).raw == l2 and store.check(g(1), 0) == "revoked"
    assert store.current is not None and store.current.next_update == 1767300000
    assert store.offer(d12).error.reason == "delta_base_mismatch"  # type: ignore[union-attr]
    assert store.load(make_delta(l2, l3)).raw == l3 and store.check(g(5), 0) is None
    assert store.load(l4).raw == l4  # a full list after deltas
    assert store.offer(make_delta(l4, l1)).error.reason == "rollback"  # type: ignore[union-attr]
    assert store.current is not None and store.current.raw == l4


def test_a_delta_to_the_list_in_force_is_unchanged_and_one_to_an_older_list_is_a_rollback() -> None:
    l5 = build_list([(g(1), 2)], sequence=5)
    store = store_with(l5)
    in_force = store.current
    same = make_delta(l5, l5)  # base 5, result 5, no changes: the same bytes
    outcome = store.offer(same)
    assert (outcome.kind, outcome.sequence, outcome.delta) == ("unchanged", 5, True)
    older = make_delta(l5, build_list([], sequence=4))
    assert store.offer(older).error.reason == "rollback"  # type: ignore[union-attr]
    other = make_delta(l5, build_list([(g(1), 1)], sequence=5))
    assert store.offer(other).error.reason == "equivocation"  # type: ignore[union-attr]
    assert store.current is in_force


def test_initial_must_be_verified() -> None:
    with pytest.raises(ValueError):
        sv.RevocationStore(KEYS, initial=sv.parse_revocation_list(build_list([], sequence=1)))


def test_two_deltas_on_one_base_install_one_and_refuse_the_other() -> None:
    # The delta is applied under the install lock: whichever comes second finds another base.
    l1 = build_list([(g(1), 1)], sequence=1)
    a = make_delta(l1, build_list([(g(1), 2)], sequence=2))
    b = make_delta(l1, build_list([], sequence=3))
    for _ in range(20):
        store = store_with(l1)
        outcomes: List[sv.Outcome] = []
        start = threading.Barrier(2)

        def offer(data: bytes) -> None:
            start.wait()
            outcomes.append(store.offer(data))

        threads = [threading.Thread(target=offer, args=(d,)) for d in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        kinds = sorted((o.kind, o.error.reason if o.error else None) for o in outcomes)
        assert kinds == [("installed", None), ("refused", "delta_base_mismatch")]
        assert store.current is not None and store.current.sequence in (2, 3)


@pytest.mark.parametrize("seed", range(25))
def test_random_merges_rebuild_the_target_list(seed: int) -> None:
    rng = random.Random(seed)
    pool = [rng.getrandbits(128).to_bytes(16, "big") for _ in range(rng.choice((0, 3, 40, 300)))]
    base_entries = {x: rng.choice((1, 2)) for x in pool if rng.random() < 0.5}
    target_entries = dict(base_entries)
    for x in pool:
        roll = rng.random()
        if roll < 0.15:
            target_entries.pop(x, None)
        elif roll < 0.3:
            target_entries[x] = rng.choice((1, 2))
    base = build_list(list(base_entries.items()), sequence=10)
    target = build_list(list(target_entries.items()), sequence=11 + seed, next_update=rng.choice((0, 1800000000)))
    store = store_with(base, index_limit=rng.choice((0, 1 << 18)))  # byte search or dict
    assert store.load(make_delta(base, target)).raw == target
    for x in pool:
        want = target_entries.get(x)
        assert store.current is not None
        assert store.current.status(x) == (None if want is None else sv.STATUS_NAMES[want])


def test_a_few_changes_to_a_long_list() -> None:
    entries = [(i.to_bytes(16, "big"), 1) for i in range(0, 3_000_000, 30)]  # 100,000 deactivated
    base = build_list(entries, sequence=1)
    changed = dict(entries)
    changed[(15).to_bytes(16, "big")] = 2  # added
    changed[(2_999_970).to_bytes(16, "big")] = 2  # the last entry: deactivated -> revoked
    del changed[(0).to_bytes(16, "big")]  # the first entry leaves
    target = build_list(list(changed.items()), sequence=2)
    delta = make_delta(base, target)
    assert len(delta) == 46 + 2 + 3 * 17 + 64
    store = store_with(base)
    assert store.load(delta).raw == target


def test_changes_that_change_nothing_are_malformed() -> None:
    base = build_list([(g(1), 1), (g(3), 2)], sequence=1)
    cases = {
        "removes an unlisted GUID": [(g(2), 0)],
        "sets the status a GUID has": [(g(3), 2)],
        "removes an unlisted GUID past the end": [(g(9), 0)],
    }
    for name, changes in cases.items():
        # The result is right (list 2 = list 1 re-signed) apart from the useless change.
        good = make_delta(base, build_list([(g(1), 1), (g(3), 2)], sequence=2))
        head = bytearray(good[: 46 + 2])
        struct.pack_into(">I", head, len(head) - 4, len(changes))
        delta = bytes(head) + b"".join(x + bytes([s]) for x, s in changes) + good[-64:]
        outcome = store_with(base).offer(delta)
        assert outcome.error is not None and outcome.error.reason == "malformed", name


def test_delta_parse_fields() -> None:
    l1 = build_list([(g(1), 1), (g(2), 2)], sequence=7)
    l2 = build_list([(g(2), 1), (g(3), 2)], sequence=9, next_update=1800000000)
    d = sv.RevocationDelta.parse(make_delta(l1, l2))
    assert (d.kid, d.base_sequence, d.sequence, d.issued_at, d.next_update, d.count) == (
        "r1",
        7,
        9,
        1767225609,
        1800000000,
        2,
    )
    assert d.changes == ((g(1), 0), (g(2), 1), (g(3), 2))
    assert d.signature == l2[-64:]
    assert sv.is_revocation_delta(make_delta(l1, l2)) and not sv.is_revocation_delta(l1)
    assert "delta_base_mismatch" in sv.LIST_REASONS


# ---------------------------------------------------------------------------------------------
# Damaged deltas: refused, never anything else


def test_truncated_and_flipped_deltas_are_only_ever_refused() -> None:
    l1 = build_list([(g(1), 1), (g(4), 2), (g(8), 1)], sequence=3)
    l2 = build_list([(g(1), 2), (g(5), 1), (g(8), 1)], sequence=4, next_update=1800000000)
    good = make_delta(l1, l2)
    rng = random.Random(20260101)
    variants = [good[:n] for n in range(len(good))]  # every truncation
    for _ in range(1500):
        b = bytearray(good)
        for _ in range(rng.choice((1, 1, 2, 3))):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        variants.append(bytes(b))
    for _ in range(200):
        variants.append(good + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 40))))
        cut = rng.randrange(len(good))
        variants.append(good[:cut] + bytes([rng.getrandbits(8)]) + good[cut + 1 :])
    seen = set()
    for data in variants:
        store = store_with(l1, max_bytes=4096)
        in_force = store.current
        outcome = store.offer(data)  # never raises
        if data == good:
            continue
        if outcome.kind == "refused":
            assert outcome.error is not None and outcome.error.reason in DELTA_REASONS
            seen.add(outcome.error.reason)
            assert store.current is in_force
        else:  # a change that cannot matter (e.g. not in the signed bytes) must still make l2
            assert store.current is not None and store.current.raw == l2
        try:
            sv.RevocationDelta.parse(data, 4096).apply(in_force, KEYS, 4096)
        except sv.RevocationListError:
            pass
    assert {"malformed", "unsupported_version", "delta_base_mismatch", "bad_signature"} <= seen


# ---------------------------------------------------------------------------------------------
# The CLI: a delta without a list in force


def test_cli_refuses_a_delta_file_with_exit_24(tmp_path: Path) -> None:
    l1 = build_list([], sequence=1)
    l2 = build_list([(g(1), 2)], sequence=2)
    ks = tmp_path / "ks.json"
    ks.write_text(
        json.dumps(
            {
                "format": "sigil-keyset-v1",
                "audience": "billing",
                "token_keys": [{"kid": "k1", "key": sv.b64url_encode(bytes(32))}],
                "revocation_keys": [{"kid": "r1", "public_key": sv.b64url_encode(KEYS["r1"])}],
            }
        )
    )
    delta = tmp_path / "delta.sgl"
    delta.write_bytes(make_delta(l1, l2))
    p = subprocess.run(
        [sys.executable, "-m", "sigil_verify", "--keyset", str(ks), "--revocations", str(delta), "sgl_x"],
        capture_output=True,
        text=True,
        timeout=60,
        env=python_env(),
    )
    assert p.returncode == 24 and json.loads(p.stdout)["error"] == "delta_base_mismatch"
