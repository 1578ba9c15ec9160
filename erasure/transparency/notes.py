"""Signed checkpoints: the C2SP `tlog-checkpoint` body inside a C2SP `signed-note`.

A checkpoint says "the log named <origin> has <size> entries and this root hash":

    <origin>\\n
    <tree size, decimal>\\n
    <root hash, base64>\\n
    [<extension line>\\n ...]

A signed note is that text, a blank line, and one signature line per signer:

    — <key name> <base64(key ID || Ed25519 signature of the text)>\\n

where the key ID is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key)
(0x01: the Ed25519 signature type). Keys travel as text in the formats of Go's
golang.org/x/mod/sumdb/note, which transparency tooling reads:

    verifier key: <name>+<key ID, 8 hex digits>+<base64(0x01 || public key)>
    signer key:   PRIVATE+KEY+<name>+<key ID, 8 hex digits>+<base64(0x01 || private seed)>

Verification needs only this module and `cryptography`: an auditor's offline check uses
it as it is. Errors name what does not hold (`NoteError`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed, or whose signature does not verify."""


def _check_name(name: str) -> None:
    # The signed-note spec: non-empty, no Unicode space, no plus (the key formats
    # use it as their separator).
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"{name!r} is not a key name (non-empty, no spaces, no '+')")


def key_id(name: str, public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None


@dataclass(frozen=True)
class Verifier:
    """A public key by name, as auditors and witnesses keep it."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        body = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{body}"

    @classmethod
    def decode(cls, text: str) -> Verifier:
        # The name and the ID hold no '+'; the base64 may.
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<key ID>+<base64 key>")
        name, hint, body = parts
        _check_name(name)
        raw = _b64decode(body, "the verifier key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("the verifier key is not an Ed25519 key")
        verifier = cls(name=name, public_key=raw[1:])
        if f"{verifier.key_id:08x}" != hint.lower():
            raise NoteError("the verifier key's ID does not match its name and key")
        return verifier

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A private key by name (never logged, never stored in the database)."""

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        _check_name(name)
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(name=name, seed=seed)

    @property
    def verifier(self) -> Verifier:
        public = (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return Verifier(name=self.name, public_key=public)

    def encode(self) -> str:
        body = base64.b64encode(bytes([ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{body}"

    @classmethod
    def decode(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<key ID>+<base64 key>")
        _, _, name, hint, body = parts
        _check_name(name)
        raw = _b64decode(body, "the signer key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("the signer key is not an Ed25519 key")
        signer = cls(name=name, seed=raw[1:])
        if f"{signer.verifier.key_id:08x}" != hint.lower():
            raise NoteError("the signer key's ID does not match its name and key")
        return signer

    def sign(self, text: str) -> str:
        """`text` as a signed note with this key's signature line."""
        _check_text(text)
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())
        blob = self.verifier.key_id.to_bytes(4, "big") + signature
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    if "\n\n" in text:
        raise NoteError("a note's text holds no blank line")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise NoteError("a note holds no control character but newline")


def open_note(note: str, verifiers: list[Verifier]) -> tuple[str, list[Verifier]]:
    """The text of `note` and the known keys that signed it; raises NoteError when the
    note is malformed, a known key's signature fails, or no known key signed it.
    Signatures of unknown keys are ignored (a witness may add its own)."""
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise NoteError("a note holds no control character but newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no signatures (no blank line before them)")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("the note's last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    known = {(v.name, v.key_id): v for v in verifiers}
    signed_by: list[Verifier] = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line starts with an em dash and a space")
        name, sep, blob_text = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or " " in blob_text:
            raise NoteError("a signature line is '— <key name> <signature>'")
        _check_name(name)
        blob = _b64decode(blob_text, "a signature")
        if len(blob) < 5:
            raise NoteError("a signature is shorter than a key ID and a signature")
        verifier = known.get((name, int.from_bytes(blob[:4], "big")))
        if verifier is None or verifier in signed_by:
            continue
        if not verifier.verifies(text.encode(), blob[4:]):
            raise NoteError(f"the signature of {name} does not verify: the note was altered")
        signed_by.append(verifier)
    if not signed_by:
        raise NoteError("no known key signed the note")
    return text, signed_by


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise NoteError("a checkpoint's origin is one non-empty line")
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is origin, size and root hash, one line each")
        origin, size_text, root_text, *extensions = lines[:-1]
        if not origin:
            raise NoteError("the checkpoint's origin is empty")
        if not size_text.isascii() or not size_text.isdigit() or size_text != str(int(size_text)):
            raise NoteError("the checkpoint's tree size is not a decimal number")
        root = _b64decode(root_text, "the checkpoint's root hash")
        if len(root) != 32:
            raise NoteError("the checkpoint's root hash is not a SHA-256 hash")
        if any(not line for line in extensions):
            raise NoteError("a checkpoint's extension line is not empty")
        return cls(origin=origin, size=int(size_text), root_hash=root, extensions=tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    return signer.sign(checkpoint.text())


def open_checkpoint(note: str, verifiers: list[Verifier], *, origin: str) -> Checkpoint:
    """The checkpoint of a signed note, after its signature and its origin are checked."""
    text, _ = open_note(note, verifiers)
    checkpoint = Checkpoint.parse(text)
    if checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is of the log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
