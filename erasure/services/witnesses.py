"""Pushing each new checkpoint to its witnesses: a directory, and HTTP POST URLs.

A witness keeps what it is sent; an auditor later holds the log to it
(`verify_audit --checkpoint DIR`). Each checkpoint is one job per target, retried with
growing waits by its task (erasure.tasks.publish_checkpoint), so that one unreachable
witness delays nobody else.

In the directory, `checkpoint.<tree size>` holds each checkpoint and `checkpoint` the
largest one; files are written whole (a temporary file renamed), never half.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import httpx

from erasure.models import AuditCheckpoint

logger = logging.getLogger(__name__)

WITNESS_TIMEOUT_SECONDS = 10.0


class WitnessError(Exception):
    """The witness did not take the checkpoint (the job is retried)."""


def checkpoint_publish(*, checkpoint_id: int, target: str) -> None:
    checkpoint = AuditCheckpoint.objects.get(pk=checkpoint_id)
    if target.startswith("dir:"):
        _write_to_directory(Path(target[4:]), checkpoint)
    else:
        _post(target, checkpoint)


def _write_whole(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".checkpoint-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _size_of(path: Path) -> int:
    try:
        return int(path.read_text(encoding="utf-8").split("\n")[1])
    except (OSError, IndexError, ValueError):
        return -1


def _write_to_directory(directory: Path, checkpoint: AuditCheckpoint) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_whole(directory / f"checkpoint.{checkpoint.tree_size}", checkpoint.note)
        latest = directory / "checkpoint"
        if _size_of(latest) < checkpoint.tree_size:
            _write_whole(latest, checkpoint.note)
    except OSError as exc:
        raise WitnessError(f"cannot write to witness directory {directory}: {exc}") from exc


def _post(url: str, checkpoint: AuditCheckpoint) -> None:
    try:
        response = httpx.post(
            url,
            content=checkpoint.note.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=WITNESS_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise WitnessError(f"witness {url} unreachable: {type(exc).__name__}") from exc
    if not response.is_success:
        raise WitnessError(f"witness {url} answered {response.status_code}")
    logger.info("checkpoint %d sent to witness %s", checkpoint.tree_size, url)
