"""The admin's people: staff members in a role's group (erasure.roles), or with a few
named permissions of the erasure app."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission


@pytest.fixture
def role_user(django_user_model):
    """`role_user(name, role)`: a staff member in the group of `role` (erasure.roles)."""

    def make(name: str, role: str):
        user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def staff(django_user_model):
    """`staff(name, *codenames, group=None)`: a staff member with these erasure
    permissions, and in `group` if given."""

    def make(name: str, *codenames: str, group: str | None = None):
        user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="erasure", codename__in=codenames)
        )
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return make


@pytest.fixture
def role_groups(db):
    """The roles' groups, as the migrations make them (erasure.roles). A transactional
    test ends with a flush that empties them: one that runs later makes them again."""
    from erasure.roles import COMPLETENESS_READ, ROLE_PERMISSIONS

    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *[
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in [*wanted, *COMPLETENESS_READ]
            ]
        )
