#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
    if not os.environ.get("DATABASE_URL"):
        # The embedded server starts on demand (a no-op when it already runs),
        # so `manage.py import_speech …` works without `make run` first.
        from archive import embedded_db

        embedded_db.start()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
