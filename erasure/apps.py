import sys

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ErasureConfig(AppConfig):
    name = "erasure"
    verbose_name = "Erasure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from erasure.hash_key_guard import check_new_connection

        # Every process checks the subject-hash key against the database: at start
        # (manage.py, config.wsgi) and, should the database not answer then, on the first
        # connection that reaches it.
        connection_created.connect(check_new_connection, dispatch_uid="subject-hash-key-guard")
        if sys.argv[1:3] == ["procrastinate", "worker"]:
            # A worker's first jobs start together: the client's one-time costs are paid
            # here, before it takes any.
            from namespace_api.client.client import warm_up

            warm_up()
