"""The Merkle tree and its proofs against the RFC 6962 / RFC 9162 test vectors of
transparency-dev/merkle (testdata/rfc6962/, Apache License 2.0): every happy path verifies
and every `wantErr` case is refused; the proofs this module makes are the vectors' own."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from erasure.transparency.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "testdata" / "rfc6962"
# The reference tree behind the vectors (testdata README).
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def cases(kind: str) -> list[Any]:
    found = sorted((VECTORS / kind).rglob("*.json"))
    assert found, f"no {kind} vectors under {VECTORS}"
    return [
        pytest.param(json.loads(path.read_text()), id=str(path.relative_to(VECTORS / kind)))
        for path in found
    ]


@pytest.mark.parametrize("case", cases("inclusion"))
def test_inclusion_vectors(case):
    def verify() -> None:
        verify_inclusion(
            index=case["leafIdx"],
            size=case["treeSize"],
            leaf=b64(case["leafHash"]),
            proof=[b64(p) for p in case["proof"] or []],
            root=b64(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("case", cases("consistency"))
def test_consistency_vectors(case):
    def verify() -> None:
        verify_consistency(
            first=case["size1"],
            second=case["size2"],
            first_root=b64(case["root1"]),
            second_root=b64(case["root2"]),
            proof=[b64(p) for p in case["proof"] or []],
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


def test_the_reference_tree_has_the_published_roots():
    tree = MemoryTree.of_inputs(LEAVES)
    assert root_hash(MemoryTree([])) == EMPTY_ROOT
    for size, root in ROOTS.items():
        assert root_hash(tree, size).hex() == root


def happy(kind: str) -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text()) for path in sorted((VECTORS / kind).glob("*/happy-path.json"))
    ]


def test_the_proofs_made_here_are_the_vectors_own():
    tree = MemoryTree.of_inputs(LEAVES)
    for case in happy("inclusion"):
        made = inclusion_proof(tree, case["leafIdx"], case["treeSize"])
        assert made == [b64(p) for p in case["proof"] or []], case
        assert leaf_hash(LEAVES[case["leafIdx"]]) == b64(case["leafHash"])
    for case in happy("consistency"):
        made = consistency_proof(tree, case["size1"], case["size2"])
        assert made == [b64(p) for p in case["proof"] or []], case


def test_every_proof_of_every_small_tree_verifies_and_a_wrong_one_does_not():
    # All leaves and all pairs of sizes up to 33: odd sizes, powers of two and one past.
    inputs = [n.to_bytes(2, "big") for n in range(33)]
    tree = MemoryTree.of_inputs(inputs)
    for size in range(1, tree.size + 1):
        root = root_hash(tree, size)
        for index in range(size):
            proof = inclusion_proof(tree, index, size)
            verify_inclusion(
                index=index, size=size, leaf=leaf_hash(inputs[index]), proof=proof, root=root
            )
            with pytest.raises(ProofError):
                verify_inclusion(
                    index=index, size=size, leaf=leaf_hash(b"other"), proof=proof, root=root
                )
        for first in range(1, size + 1):
            proof = consistency_proof(tree, first, size)
            verify_consistency(
                first=first,
                second=size,
                first_root=root_hash(tree, first),
                second_root=root,
                proof=proof,
            )
            if 0 < first < size:
                with pytest.raises(ProofError):
                    verify_consistency(
                        first=first,
                        second=size,
                        first_root=leaf_hash(b"a rewritten history"),
                        second_root=root,
                        proof=proof,
                    )
