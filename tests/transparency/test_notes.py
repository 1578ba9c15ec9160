"""Signed notes and checkpoints (erasure.transparency.notes), against the reference note of
Go's golang.org/x/mod/sumdb/note (its package documentation and tests): our signer makes
the same bytes, our verifier opens it, and any change to the note is refused."""

from __future__ import annotations

import base64

import pytest

from erasure.transparency.merkle import EMPTY_ROOT
from erasure.transparency.notes import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    open_note,
    sign_checkpoint,
)

GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_reference_keys_round_trip_and_sign_the_reference_note():
    signer = Signer.decode(GO_SIGNER)
    assert signer.encode() == GO_SIGNER
    assert signer.verifier.encode() == GO_VERIFIER
    assert Verifier.decode(GO_VERIFIER) == signer.verifier
    assert signer.sign(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic


def test_the_reference_note_opens_and_any_change_is_refused():
    verifier = Verifier.decode(GO_VERIFIER)
    assert open_note(GO_NOTE, [verifier]) == (GO_TEXT, [verifier])
    with pytest.raises(NoteError, match="altered"):
        open_note(GO_NOTE.replace("answer", "Answer"), [verifier])
    with pytest.raises(NoteError, match="no known key"):
        open_note(GO_NOTE, [Signer.generate("PeterNeumann").verifier])
    with pytest.raises(NoteError):
        open_note(GO_TEXT, [verifier])  # no signatures
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("\u2014", "-"), [verifier])


def test_a_signature_of_an_unknown_key_is_ignored():
    ours = Signer.generate("erasure.example/log")
    note = Signer.decode(GO_SIGNER).sign(GO_TEXT)
    witnessed = note + ours.sign(GO_TEXT).split("\n\n", 1)[1]
    text, signed_by = open_note(witnessed, [ours.verifier])
    assert (text, signed_by) == (GO_TEXT, [ours.verifier])


@pytest.mark.parametrize(
    "key",
    [
        GO_VERIFIER.replace("c74f20a3", "c74f20a4"),  # the ID does not match
        GO_VERIFIER.replace("PeterNeumann", "Peter Neumann"),
        GO_VERIFIER + "+more",
        GO_VERIFIER[:-4],
        "",
    ],
)
def test_a_mangled_verifier_key_is_refused(key):
    with pytest.raises(NoteError):
        Verifier.decode(key)


def test_a_checkpoint_is_signed_opened_and_bound_to_its_origin():
    signer = Signer.generate("erasure.example/log")
    checkpoint = Checkpoint(origin="erasure.example/log", size=8, root_hash=EMPTY_ROOT)
    note = sign_checkpoint(checkpoint, signer)
    assert note.startswith(
        f"erasure.example/log\n8\n{base64.b64encode(EMPTY_ROOT).decode()}\n\n\u2014 "
    )
    assert open_checkpoint(note, [signer.verifier], origin="erasure.example/log") == checkpoint
    with pytest.raises(NoteError, match="not 'other.example/log'"):
        open_checkpoint(note, [signer.verifier], origin="other.example/log")
    with pytest.raises(NoteError, match="altered"):
        open_checkpoint(
            note.replace("\n8\n", "\n9\n"), [signer.verifier], origin="erasure.example/log"
        )


@pytest.mark.parametrize(
    "text",
    [
        "origin\n08\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",  # leading zero
        "origin\n-1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
        "origin\n8\n" + base64.b64encode(b"short").decode() + "\n",
        "origin\n8\n",
        "\n8\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
    ],
)
def test_a_malformed_checkpoint_is_refused(text):
    with pytest.raises(NoteError):
        Checkpoint.parse(text)
