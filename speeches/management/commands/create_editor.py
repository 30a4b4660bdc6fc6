"""`manage.py create_editor USERNAME [--publisher] [--email E] [--password-from-env VAR]`

Creates a staff user in the Editor group (or Publisher, which may also publish
and withdraw). Prompts for the password unless --password-from-env names an
environment variable holding it (for scripts). Refuses an existing username.
"""

from __future__ import annotations

import getpass
import os

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction


class Command(BaseCommand):
    help = "Create a staff user in the Editor group (or Publisher with --publisher)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--publisher", action="store_true", help="May publish and withdraw.")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="Read the password from this environment variable instead of prompting.",
        )

    def handle(self, *args, username: str, publisher: bool, email: str, **options) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} already exists.")
        group_name = "Publisher" if publisher else "Editor"
        group = Group.objects.filter(name=group_name).first()
        if group is None:
            raise CommandError(f"The {group_name} group is missing; run `manage.py migrate`.")
        password = self._password(options["password_from_env"])
        candidate = User(username=username, email=email)
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        with transaction.atomic():
            user = User.objects.create_user(
                username=username, email=email, password=password, is_staff=True
            )
            user.groups.add(group)
        self.stdout.write(self.style.SUCCESS(f"Created {group_name.lower()} {username!r}."))

    def _password(self, variable: str | None) -> str:
        if variable:
            password = os.environ.get(variable, "")
            if not password:
                raise CommandError(f"The environment variable {variable} is empty or unset.")
            return password
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Password (again): ")
        except (EOFError, KeyboardInterrupt) as error:
            raise CommandError("No password given.") from error
        if password != again:
            raise CommandError("The passwords do not match.")
        if not password:
            raise CommandError("The password cannot be empty.")
        return password
