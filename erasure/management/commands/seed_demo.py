"""Demo data for `make run`: two officers, two namespaces, a few subjects and their items.

Safe to run on every start: users, namespaces and mappings are created only when missing,
and the (in-memory) emulator is refilled with the items that the mappings still name, so
items already erased stay erased.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from erasure.actors import Actor
from erasure.clients import make_client
from erasure.hashing import subject_hash
from erasure.lifecycle import RequestStatus
from erasure.models import ErasureRequest, ItemMapping
from erasure.roles import APPROVER, AUDITOR, OFFICER
from erasure.services.mappings import MappingInput, mappings_register
from namespace_api.client.errors import ApiStatusError

DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed to the developer on purpose
# Demo users and their roles (erasure.roles; the groups are created by a migration).
DEMO_USERS = {"officer": OFFICER, "approver": APPROVER, "auditor": AUDITOR}
TEXT_NAMESPACE = "demo-docs"
VECTOR_NAMESPACE = "demo-vectors"
VECTOR_DIMENSION = 4
DEMO_SUBJECTS = ("user_alice", "user_bob", "user_carol")
ITEMS_PER_SUBJECT = 5


class Command(BaseCommand):
    help = "Create demo users, namespaces, mappings and emulator items (idempotent)."

    def handle(self, *args, **options):
        if not _is_local_emulator(settings.NAMESPACE_API_URL):
            # A real namespace API means a real deployment: no demo namespaces or items in
            # it, and no users with a published password.
            self.stderr.write("Nothing seeded: NAMESPACE_API_URL is not the local emulator.")
            return
        self._users()
        with make_client() as client:
            self._namespaces(client)
            self._mappings()
            self._fill_emulator(client)

    def _users(self) -> None:
        user_model = get_user_model()
        for username, role in DEMO_USERS.items():
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"is_staff": True}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.add(Group.objects.get(name=role))

    def _namespaces(self, client) -> None:
        for name, kind, dim in (
            (TEXT_NAMESPACE, "text", None),
            (VECTOR_NAMESPACE, "vector", VECTOR_DIMENSION),
        ):
            try:
                client.create_namespace(name=name, kind=kind, vector_dimension=dim)
            except ApiStatusError as exc:
                if exc.status != 409:  # 409: exists already
                    raise

    def _mappings(self) -> None:
        erased = set(
            ErasureRequest.objects.exclude(status=RequestStatus.CANCELLED).values_list(
                "subject__key_hash", flat=True
            )
        )

        items = [
            MappingInput(subject=subject, namespace=ns, item_id=f"{subject}-{kind}-{n}")
            for subject in DEMO_SUBJECTS
            if subject_hash(subject) not in erased
            for ns, kind in ((TEXT_NAMESPACE, "doc"), (VECTOR_NAMESPACE, "vec"))
            for n in range(1, ITEMS_PER_SUBJECT + 1)
        ]
        if items:
            mappings_register(items=items, actor=Actor.system("seed_demo"))

    def _fill_emulator(self, client) -> None:
        rows = ItemMapping.objects.filter(
            namespace__name__in=[TEXT_NAMESPACE, VECTOR_NAMESPACE]
        ).values_list("namespace__name", "item_id")
        docs = [
            {"id": item_id, "text": f"Demo document {item_id} with personal notes."}
            for ns, item_id in rows
            if ns == TEXT_NAMESPACE
        ]
        vectors = [
            {"id": item_id, "vector": [0.1, 0.2, 0.3, 0.4]}
            for ns, item_id in rows
            if ns == VECTOR_NAMESPACE
        ]
        if docs:
            client.upload_documents(namespace=TEXT_NAMESPACE, documents=docs)
        if vectors:
            client.upload_vectors(namespace=VECTOR_NAMESPACE, vectors=vectors)
        self.stderr.write(
            f"Demo: {len(docs)} documents and {len(vectors)} vectors in the emulator; "
            f"users {', '.join(DEMO_USERS)} (password {DEMO_PASSWORD})."
        )


def _is_local_emulator(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")
