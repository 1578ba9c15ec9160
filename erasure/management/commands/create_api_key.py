from django.core.management.base import BaseCommand, CommandError

from erasure.actors import Actor
from erasure.errors import ServiceError
from erasure.models import ApiKey
from erasure.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create a REST API key; the key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            required=True,
            choices=ApiKey.Scope.values,
            help="repeat for several scopes",
        )

    def handle(self, *args, name: str, scopes: list[str], **options):
        try:
            key, raw = api_key_create(name=name, scopes=scopes, actor=Actor.system("cli"))
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"Created API key {key.name!r} with scopes {', '.join(key.scopes)}.")
        self.stderr.write("Store it now: it is not shown again.")
        self.stdout.write(raw)
