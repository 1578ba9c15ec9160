from django.core.management.base import BaseCommand

from namespace_api.emulator import EmulatorServer


class Command(BaseCommand):
    help = "Run the namespace API emulator (a real HTTP server) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--flavor", choices=["cloud", "onprem"], default="cloud")
        parser.add_argument(
            "--api-key", action="append", dest="api_keys", help="accepted key (repeatable)"
        )
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        server = EmulatorServer(
            host=options["host"],
            port=options["port"],
            flavor=options["flavor"],
            api_keys=options["api_keys"] or ["emulator-key"],
            latency_ms=options["latency_ms"],
            seed=options["seed"],
        )
        self.stderr.write(
            f"Namespace API emulator ({options['flavor']}) on http://{options['host']}:"
            f"{options['port']}; control endpoint under /_emulator/"
        )
        server.serve_forever()
