"""Every new checkpoint goes to each witness target: a directory, and HTTP POST URLs,
each its own job, retried while the witness does not take it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.jobs import Job

from erasure import tasks
from erasure.actors import Actor
from erasure.models import AuditCheckpoint
from erasure.services import audit_log, witnesses
from erasure.services.audit import audit_record

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")


class Witness(http.server.BaseHTTPRequestHandler):
    received: list[bytes] = []
    failures_left = 0

    def do_POST(self) -> None:  # noqa: N802 (the handler's API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Witness.failures_left > 0:
            Witness.failures_left -= 1
            self.send_response(503)
        else:
            Witness.received.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def witness_url() -> Iterator[str]:
    Witness.received, Witness.failures_left = [], 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/witness"
    server.shutdown()
    server.server_close()


def _sequence_one() -> AuditCheckpoint:
    with transaction.atomic():
        audit_record(event_type="mappings.registered", actor=ACTOR)
    result = audit_log.sequence_pass()
    assert result.checkpoint is not None
    return result.checkpoint


def test_each_checkpoint_is_one_job_per_target(settings, tmp_path, witness_url):
    settings.AUDIT_WITNESS_DIR = str(tmp_path)
    settings.AUDIT_WITNESS_URLS = [witness_url]
    checkpoint = _sequence_one()
    jobs = ProcrastinateJob.objects.filter(
        task_name="erasure.publish_checkpoint", args__checkpoint_id=checkpoint.pk
    )
    assert sorted(job.args["target"] for job in jobs) == sorted([f"dir:{tmp_path}", witness_url])


def test_a_directory_keeps_every_checkpoint_and_the_latest(tmp_path):
    first, second = _sequence_one(), _sequence_one()
    target = f"dir:{tmp_path / 'witness'}"
    witnesses.checkpoint_publish(checkpoint_id=second.pk, target=target)
    witnesses.checkpoint_publish(checkpoint_id=first.pk, target=target)  # late, out of order
    witness = tmp_path / "witness"
    assert (witness / "checkpoint.1").read_text() == first.note
    assert (witness / "checkpoint.2").read_text() == second.note
    assert (witness / "checkpoint").read_text() == second.note  # never moved back
    assert not [p for p in witness.iterdir() if p.name.startswith(".checkpoint-")]


def test_an_unwritable_directory_is_a_retried_failure(tmp_path):
    checkpoint = _sequence_one()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(witnesses.WitnessError, match="cannot write"):
        witnesses.checkpoint_publish(checkpoint_id=checkpoint.pk, target=f"dir:{blocker}")


def test_an_http_witness_that_fails_is_retried_until_it_takes_it(witness_url):
    checkpoint = _sequence_one()
    Witness.failures_left = 2
    for _ in range(2):
        with pytest.raises(witnesses.WitnessError, match="answered 503"):
            witnesses.checkpoint_publish(checkpoint_id=checkpoint.pk, target=witness_url)
    witnesses.checkpoint_publish(checkpoint_id=checkpoint.pk, target=witness_url)
    assert Witness.received == [checkpoint.note.encode()]


def test_an_unreachable_witness_is_a_retried_failure():
    checkpoint = _sequence_one()
    with pytest.raises(witnesses.WitnessError, match="unreachable"):
        witnesses.checkpoint_publish(checkpoint_id=checkpoint.pk, target="http://127.0.0.1:1/w")


def test_the_publication_task_retries_witness_failures_only():
    strategy = tasks.publish_checkpoint.retry_strategy
    assert strategy is not None and strategy.max_attempts >= 10
    assert list(strategy.retry_exceptions) == [witnesses.WitnessError]
    job = Job(id=1, queue="erasure", lock=None, queueing_lock=None, task_name="t", attempts=1)
    assert strategy.get_retry_decision(exception=witnesses.WitnessError("x"), job=job)
    assert strategy.get_retry_decision(exception=KeyError("x"), job=job) is None
