"""The Merkle tree of RFC 9162 section 2.1 (hashing as in RFC 6962 section 2.1), its
inclusion and consistency proofs, and their verification.

    leaf hash  = SHA-256(0x00 || leaf input)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256()                       the empty tree
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n]))  k: the largest power of two below n

Proofs are computed from a `Tree`: anything that can give the hash of a range of its
leaves, `D[start:end]`. `MemoryTree` keeps the leaf hashes in a list; a store that keeps
the hashes of complete subtrees answers the same ranges in O(log n) reads, which is what
makes a proof in a log of millions of events take milliseconds.

Verification needs no tree: the verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2
step by step, and raise `ProofError` naming what does not hold. This module needs nothing
but the standard library, so an auditor's offline check can use it as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims (or is not a proof at all)."""


def leaf_hash(leaf_input: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than `n` (n > 1): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree(Protocol):
    """The leaves of a log, as far as proofs need them."""

    @property
    def size(self) -> int: ...

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]), 0 <= start < end <= size."""
        ...


class MemoryTree:
    """A tree over leaf hashes held in memory, with the hashes of ranges remembered."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._leaves = list(leaf_hashes)
        self._cache: dict[tuple[int, int], bytes] = {}

    @classmethod
    def of_inputs(cls, leaf_inputs: Sequence[bytes]) -> MemoryTree:
        return cls([leaf_hash(data) for data in leaf_inputs])

    @property
    def size(self) -> int:
        return len(self._leaves)

    def range_hash(self, start: int, end: int) -> bytes:
        if end - start == 1:
            return self._leaves[start]
        key = (start, end)
        found = self._cache.get(key)
        if found is None:
            k = split_point(end - start)
            found = node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))
            self._cache[key] = found
        return found


def root_hash(tree: Tree, size: int | None = None) -> bytes:
    """MTH of the first `size` leaves (all of them by default)."""
    size = tree.size if size is None else size
    if not 0 <= size <= tree.size:
        raise ValueError(f"a tree of {tree.size} leaves has no prefix of {size}")
    return EMPTY_ROOT if size == 0 else tree.range_hash(0, size)


def inclusion_proof(tree: Tree, index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1): the audit path of leaf `index` in the tree
    of the first `size` leaves, nearest sibling first."""
    size = tree.size if size is None else size
    if not 0 <= index < size <= tree.size:
        raise ValueError(f"no leaf {index} in a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, collecting the sibling at each level; reversed at the end,
    # the path runs from the leaf up.
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(tree.range_hash(start + k, end))
            end = start + k
        else:
            path.append(tree.range_hash(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(tree: Tree, first: int, second: int | None = None) -> list[bytes]:
    """PROOF(first, D[second]) (RFC 9162 2.1.4.1): that the tree of `second` leaves
    extends the tree of `first` (empty when the sizes are equal, or when `first` is 0:
    such a proof proves nothing, and verify_consistency refuses it)."""
    second = tree.size if second is None else second
    if not 0 <= first <= second <= tree.size:
        raise ValueError(f"no consistency proof from {first} to {second} leaves")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, whole = 0, second, True
    m = first
    # SUBPROOF(m, D[start:end], whole), unrolled; the hashes are gathered top down and
    # the proof lists them bottom up.
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            proof.append(tree.range_hash(start + k, end))
            end = start + k
        else:
            proof.append(tree.range_hash(start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        proof.append(tree.range_hash(start, end))
    proof.reverse()
    return proof


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not a SHA-256 hash")


def root_from_inclusion(*, index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` proves leaf hash `leaf` at `index` to be under (RFC 9162
    2.1.3.2, steps 1 to 4)."""
    _check_hash(leaf, "the leaf hash")
    for n, node in enumerate(proof):
        _check_hash(node, f"proof hash {n}")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn = index, size - 1
    r = leaf
    for node in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the path of the leaf")
        if fn & 1 or fn == sn:
            r = node_hash(node, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the path of the leaf")
    return r


def verify_inclusion(
    *, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree of
    `size` leaves whose root is `root`."""
    _check_hash(root, "the root hash")
    if root_from_inclusion(index=index, size=size, leaf=leaf, proof=proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with this root")


def verify_consistency(
    *, first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless `proof` shows that the tree of `second` leaves with root
    `second_root` extends the tree of `first` leaves with root `first_root` (RFC 9162
    2.1.4.2)."""
    if not 0 <= first <= second:
        raise ProofError(f"a tree of {second} leaves cannot extend one of {first}")
    if first == 0:
        # Every tree extends the empty one: there is nothing to prove, and a claim that
        # rests on such a "proof" proves nothing (the vectors refuse it too).
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if first == second:
        if proof:
            raise ProofError("trees of the same size need an empty proof")
        if first_root != second_root:
            raise ProofError(f"two different roots for the same tree of {first} leaves")
        return
    _check_hash(first_root, "the first root hash")
    _check_hash(second_root, "the second root hash")
    for n, node in enumerate(proof):
        _check_hash(node, f"proof hash {n}")
    if not proof:
        raise ProofError("the proof is empty")
    path = list(proof)
    # Step 2: when the first tree is a complete subtree, its root starts the path.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    # Step 3: past the levels where the first tree is the left-most complete subtree.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the trees need")
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the trees need")
    if fr != first_root:
        raise ProofError(f"the proof does not lead to the root of the tree of {first} leaves")
    if sr != second_root:
        raise ProofError(f"the proof does not lead to the root of the tree of {second} leaves")


# The stored form of a tree: the hash of every complete subtree, by (level, index), for
# the leaves [index * 2**level, (index + 1) * 2**level). Level 0 holds the leaf hashes.
NodeKey = tuple[int, int]


def subtree_key(start: int, end: int) -> NodeKey | None:
    """The (level, index) of D[start:end] when it is a complete subtree, else None."""
    width = end - start
    if width <= 0 or width & (width - 1) or start % width:
        return None
    level = width.bit_length() - 1
    return level, start >> level


def frontier_keys(size: int) -> list[NodeKey]:
    """The complete subtrees that make up a tree of `size` leaves, largest (left) first:
    one per bit set in `size`."""
    keys: list[NodeKey] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


class NodeTree:
    """A tree answered from stored complete-subtree hashes (`nodes`, by NodeKey): any
    range is split the way MTH splits it until each part is a complete subtree."""

    def __init__(self, size: int, nodes: dict[NodeKey, bytes]) -> None:
        self._size = size
        self._nodes = nodes

    @property
    def size(self) -> int:
        return self._size

    def range_hash(self, start: int, end: int) -> bytes:
        key = subtree_key(start, end)
        if key is not None:
            try:
                return self._nodes[key]
            except KeyError:
                raise ProofError(f"the log has no stored hash for subtree {key}") from None
        k = split_point(end - start)
        return node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))


class _KeyRecorder:
    """A stand-in tree that notes which stored subtrees a computation reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.keys: set[NodeKey] = set()

    def range_hash(self, start: int, end: int) -> bytes:
        key = subtree_key(start, end)
        if key is not None:
            self.keys.add(key)
            return bytes(HASH_SIZE)
        k = split_point(end - start)
        self.range_hash(start, start + k)
        self.range_hash(start + k, end)
        return bytes(HASH_SIZE)


def keys_read_by(size: int, compute: Callable[[Tree], object]) -> set[NodeKey]:
    """The stored subtrees that `compute(tree)` reads in a tree of `size` leaves: fetch
    them in one query, then run `compute` on a NodeTree of them. (Proofs and roots choose
    their ranges by the indexes alone, never by a hash value.)"""
    recorder = _KeyRecorder(size)
    compute(recorder)
    return recorder.keys


class Frontier:
    """The right edge of a growing tree: the hashes of the complete subtrees that make it
    up (frontier_keys). Appending a leaf completes the subtrees it closes; the root of the
    tree at any size is folded from the edge, right to left."""

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        if len(edge) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} edge hashes")
        self.size = size
        # (level, hash), largest subtree first.
        self._edge = [(level, h) for (level, _), h in zip(frontier_keys(size), edge, strict=True)]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the subtrees of level >= 1 it completes, as
        (level, index, hash)."""
        index = self.size
        self.size += 1
        completed: list[tuple[int, int, bytes]] = []
        level, current = 0, leaf
        while self._edge and self._edge[-1][0] == level:
            _, left = self._edge.pop()
            current = node_hash(left, current)
            level += 1
            completed.append((level, index >> level, current))
        self._edge.append((level, current))
        return completed

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        root = self._edge[-1][1]
        for _, left in reversed(self._edge[:-1]):
            root = node_hash(left, root)
        return root
