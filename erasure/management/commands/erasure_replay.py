"""`manage.py erasure_replay --since DATETIME [--namespace N ...] [--dry-run]`: after a
vendor restored a backup, send again the deletes of every item that any request erased
since DATETIME (ISO 8601, with a time zone), and print what came back.

The replay runs here, in this process, and is recorded as a run of its own (its items,
dispatches, outcomes and audit events); with --dry-run it only counts what it would send.

Exit status: 0 the replay completed (or the dry run counted); 1 it stopped on an API error
(a worker resumes it); 2 bad input,
nothing written.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from erasure import queue
from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.models import ReplayState
from erasure.services.replays import replay_create, replay_plan, replay_run
from namespace_api.client.errors import NamespaceApiError


class Command(BaseCommand):
    help = "Send again the deletes of every item erased since a time (after a backup restore)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", required=True, help="ISO 8601 with a time zone, e.g. 2026-11-30T00:00Z"
        )
        parser.add_argument(
            "--namespace", action="append", default=[], metavar="N", help="repeatable; default: all"
        )
        parser.add_argument(
            "--api",
            default="",
            help="the API of the --namespace names (default: the default API)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count, send nothing")

    def handle(self, *args, **options):
        since = parse_datetime(options["since"].replace("Z", "+00:00"))
        if since is None:
            raise CommandError(
                f"--since {options['since']!r} is not an ISO 8601 time", returncode=2
            )
        if since.tzinfo is None:
            raise CommandError("--since must carry a time zone (Z or +HH:MM)", returncode=2)
        namespaces = options["namespace"]
        try:
            if options["dry_run"]:
                plan = replay_plan(since=since, namespaces=namespaces, api=options["api"])
                for name, count in plan.items():
                    self.stdout.write(f"{name}: {count} items would be sent again")
                self.stdout.write(f"dry run: {sum(plan.values())} items, nothing sent")
                return
            replay = replay_create(
                since=since,
                namespaces=namespaces,
                api=options["api"],
                actor=Actor.system("erasure_replay"),
                run_in_worker=False,
            )
        except InvalidInput as exc:
            raise CommandError(exc.message, returncode=2) from exc
        self.stdout.write(
            f"replay {replay.pk}: {replay.items} items erased since {since:%Y-%m-%d %H:%M %Z}"
        )
        try:
            replay = replay_run(replay)
        except (NamespaceApiError, RuntimeError) as exc:
            queue.enqueue_replay(replay_id=replay.pk)
            raise CommandError(
                f"replay {replay.pk} stopped ({exc}); a worker resumes it where it stopped",
                returncode=1,
            ) from exc
        if replay.state != ReplayState.COMPLETED:
            raise CommandError(f"replay {replay.pk} did not complete", returncode=1)
        self.stdout.write(
            f"replay {replay.pk} completed: {replay.came_back} came back and were deleted again, "
            f"{replay.absent} were not there, {replay.unknown} deleted or not found "
            f"(vector counts cannot tell), {replay.failed} failed"
        )
        if replay.failed:
            raise CommandError(f"{replay.failed} items could not be erased", returncode=1)
