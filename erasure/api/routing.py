"""One path, one view per HTTP method.

Django routes by path alone, and a DRF view answers every method of its path; the API has
one view per operation (style.md), and a path may carry two operations: GET /requests
lists requests, POST /requests files one. `route_by_method` joins the views of one path:

    route_by_method("requests", name="api-requests", GET=RequestListApi, POST=RequestCreateApi)

The result is an `include()` of one empty-route pattern per view, all under the one name
(so `reverse("api-requests")` is the path, as before). Each pattern's callback is a
`MethodDispatch` that hands the request to the view of its method: Django stops at the
first pattern, and every one of them dispatches the same way. There is one pattern per
view, though one would route, for whoever learns the operations by walking the URL
patterns: drf-spectacular (the OpenAPI schema) and the tests read each callback's view
class (`callback.cls`, as on a DRF view function) and document that class's methods, so
each pattern names one view.

Every view of such a path answers `Allow` with the methods of the whole path
(ApiView.path_methods). A method no view has (and OPTIONS) goes to the first view, which
answers 405 (or the OPTIONS metadata) in the API's error shape, after authentication as
on any other path; HEAD goes where GET goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLResolver, include, path

from erasure.api.base import ApiView


class MethodDispatch:
    """The view function of a path whose methods are served by different views."""

    # As every DRF view function: the API authenticates by key, never by cookie, so
    # Django's CSRF check (which looks at the resolved callback) does not apply.
    csrf_exempt = True

    def __init__(
        self,
        views: Mapping[str, Callable[..., HttpResponseBase]],
        *,
        documents: type[ApiView],
        initkwargs: dict[str, Any],
    ) -> None:
        self.views = views
        # What URL walkers read off a DRF view function (drf-spectacular's endpoint
        # enumerator: `cls` and `initkwargs`).
        self.cls = documents
        self.initkwargs = initkwargs

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        method = request.method or "GET"
        if method == "HEAD" and "HEAD" not in self.views:
            method = "GET"
        view = self.views.get(method) or next(iter(self.views.values()))
        return view(request, *args, **kwargs)


def route_by_method(route: str, *, name: str, **views: type[ApiView]) -> URLResolver:
    """`route` served by one view per HTTP method (`GET=ListApi, POST=CreateApi`)."""
    for method, view in views.items():
        if not hasattr(view, method.lower()):
            raise ImproperlyConfigured(f"{view.__name__} has no {method.lower()}() for {route}")
    methods = path_methods(views.values())
    initkwargs = {"path_methods": methods}
    callbacks = {method.upper(): view.as_view(**initkwargs) for method, view in views.items()}
    patterns = [
        path("", MethodDispatch(callbacks, documents=view, initkwargs=initkwargs), name=name)
        for view in views.values()
    ]
    return path(route, include(patterns))


def path_methods(views: Iterable[type[ApiView]]) -> tuple[str, ...]:
    """Every method some view of the path answers, in the order of `Allow` on a view that
    has them all: HEAD with GET, OPTIONS always (DRF's views answer it)."""
    own = {name for view in views for name in ApiView.http_method_names if hasattr(view, name)}
    if "get" in own:
        own.add("head")
    return tuple(name.upper() for name in ApiView.http_method_names if name in own)
