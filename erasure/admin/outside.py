"""The admins of Django's users and groups and of Procrastinate's jobs, on our base.

They come with their apps; registered again here with `BaseAdmin` first, they answer
hostile input (a NUL in a filter, a status outside Procrastinate's enum, a selection of
malformed ids) with a 400 or a message, like every list of the service, and otherwise
behave as their apps made them.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from procrastinate.contrib.django.admin import ProcrastinateJobAdmin
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.admin.base import BaseAdmin


class GuardedUserAdmin(BaseAdmin, UserAdmin):
    pass


class GuardedGroupAdmin(BaseAdmin, GroupAdmin):
    pass


class GuardedProcrastinateJobAdmin(BaseAdmin, ProcrastinateJobAdmin):
    pass


for model, model_admin in (
    (User, GuardedUserAdmin),
    (Group, GuardedGroupAdmin),
    (ProcrastinateJob, GuardedProcrastinateJobAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
