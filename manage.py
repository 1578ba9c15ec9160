#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Every command (the worker included) first checks that SUBJECT_HASH_KEY is the key this
database was made with (erasure.hash_key_guard), and defaults the variables that a
running `make run` wrote to .data/make-run.env (config.local_run) when they are unset.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.local_run import load_local_run_environment

    load_local_run_environment()

    import django
    from django.core.management import execute_from_command_line

    django.setup()
    from erasure.hash_key_guard import guard_or_exit

    guard_or_exit()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
