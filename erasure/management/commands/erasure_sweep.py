from django.core.management.base import BaseCommand

from erasure.services.sweeper import sweep


class Command(BaseCommand):
    help = (
        "Re-queue jobs of dead workers and give every unfinished request a job (the worker "
        "also runs this every minute)."
    )

    def handle(self, *args, **options):
        result = sweep()
        self.stdout.write(
            f"stalled jobs re-queued: {result.stalled_jobs}; requests re-queued: "
            f"{result.requeued}; flagged stuck: {result.flagged}"
        )
