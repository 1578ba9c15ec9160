"""The web process (gunicorn config.wsgi, runserver). It refuses to start against a
database whose subject-hash key is another (erasure.hash_key_guard)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from erasure.hash_key_guard import guard_or_exit  # noqa: E402 (needs the apps loaded)

guard_or_exit()
