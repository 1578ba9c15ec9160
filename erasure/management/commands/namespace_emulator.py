from django.core.management.base import BaseCommand, CommandError

from namespace_api.emulator import FAULTS, SWITCHES, EmulatorServer


class Command(BaseCommand):
    help = (
        "Run the namespace API emulator (a real HTTP server) until interrupted. Control "
        "endpoints under /_emulator/ (see namespace_api/emulator/server.py)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--flavor", choices=["cloud", "onprem"], default="cloud")
        parser.add_argument(
            "--api-key", action="append", dest="api_keys", help="accepted key (repeatable)"
        )
        parser.add_argument(
            "--disabled-api-key",
            action="append",
            dest="disabled_api_keys",
            default=[],
            help="key answered 401 'API key is disabled' (repeatable)",
        )
        parser.add_argument(
            "--latency-ms",
            type=int,
            default=0,
            help="time of every answer from its request's arrival (its work included)",
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the fault generator")
        parser.add_argument(
            "--fault",
            action="append",
            dest="faults",
            default=[],
            metavar="NAMESPACE:FAULT[@ENDPOINT]=PROBABILITY",
            help=f"fault odds (repeatable); NAMESPACE may be '*', ENDPOINT delete (default), "
            f"get or any; FAULT one of {', '.join(FAULTS)}",
        )
        for name, choices in SWITCHES.items():
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                choices=choices,
                default=choices[0],
                help=f"default {choices[0]}",
            )
        parser.add_argument(
            "--slow-seconds", type=float, default=35.0, help="delay of a 'slow' fault"
        )
        parser.add_argument(
            "--ingestion-delay-seconds",
            type=float,
            default=0.0,
            help="uploaded text stays invisible to reads this long",
        )
        parser.add_argument(
            "--max-items", type=int, default=100_000, help="on-prem global item cap"
        )

    def handle(self, *args, **options):
        try:
            server = EmulatorServer(
                host=options["host"],
                port=options["port"],
                flavor=options["flavor"],
                api_keys=options["api_keys"] or ["emulator-key"],
                latency_ms=options["latency_ms"],
                seed=options["seed"],
                disabled_api_keys=options["disabled_api_keys"],
                faults=options["faults"],
                slow_seconds=options["slow_seconds"],
                ingestion_delay_seconds=options["ingestion_delay_seconds"],
                onprem_max_items=options["max_items"],
                **{name: options[name] for name in SWITCHES},
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        def listening(url: str) -> None:
            self.stderr.write(
                f"Namespace API emulator ({options['flavor']}) on {url}; control endpoint "
                f"under {server.base_url}/_emulator/"
            )

        server.serve_forever(on_listening=listening)
