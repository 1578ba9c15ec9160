"""Which items belong to which subject: mappings registered and removed, and aliases."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from erasure.api.base import POST_ERRORS, ApiView, ErrorSerializer, Scope, actor_of, validated_body
from erasure.api.idempotency import idempotent
from erasure.errors import InvalidInput
from erasure.models import Namespace
from erasure.services.aliases import (
    KIND_PATTERN,
    MAX_ALIAS_LENGTH,
    MAX_ALIASES_PER_CALL,
    AliasInput,
    aliases_register,
)
from erasure.services.mappings import (
    MAX_ITEMS_PER_CALL,
    MappingInput,
    NamespaceRef,
    mappings_namespaces,
    mappings_register,
    mappings_remove,
)


class MappingItemSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=512, trim_whitespace=True)
    namespace = serializers.CharField(max_length=200)
    item_id = serializers.CharField(max_length=512, trim_whitespace=False)
    api = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text="The namespace API the namespace lives in, by its configured name; "
        "default: the default API (NAMESPACE_API_NAME).",
    )


class MappingsInputSerializer(serializers.Serializer):
    # max_length goes to the ListSerializer that many=True builds (the stubs miss it).
    items = MappingItemSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=MAX_ITEMS_PER_CALL
    )


# erasure.services.mappings.RegisterResult, every field of it (a test holds the two
# together: the README promises every field of the service's result).
class MappingsRegisterResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    added_to_open_requests = serializers.IntegerField()
    after_erasure = serializers.IntegerField()


# erasure.services.mappings.RemoveResult, every field of it.
class MappingsRemoveResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    removed = serializers.IntegerField()


MAPPINGS_EXAMPLE = OpenApiExample(
    "Two items of one subject",
    request_only=True,
    value={
        "items": [
            {"subject": "auth0|5f7c8ec7", "namespace": "notes", "item_id": "doc-1"},
            {"subject": "auth0|5f7c8ec7", "namespace": "notes", "item_id": "doc-2"},
        ]
    },
)


# Each item's fields: (most characters, whether surrounding whitespace is trimmed, whether
# it is required), as MappingItemSerializer declares them for the schema.
ITEM_FIELDS = {
    "subject": (512, True, True),
    "namespace": (200, True, True),
    "item_id": (512, False, True),
    "api": (64, True, False),
}
MAX_PROBLEMS_LISTED = 50


def _mapping_inputs(request: Request) -> list[MappingInput]:
    """The body's items, checked as MappingsInputSerializer says, without DRF's per-field
    machinery (about 70 µs an item, most of a 10,000-item call): the same rules, and the
    problems named by item (`items[3].subject`)."""
    data = request.data
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    items = data.get("items")
    problem = ""
    if items is None:
        problem = "items is required"
    elif not isinstance(items, list):
        problem = "items must be a list"
    elif not items:
        problem = "items must not be empty"
    elif len(items) > MAX_ITEMS_PER_CALL:
        problem = f"at most {MAX_ITEMS_PER_CALL:,} items per call"
    if problem or not isinstance(items, list):
        raise InvalidInput(problem, fields={"items": [problem]})
    found: list[MappingInput] = []
    problems: dict[str, list[str]] = {}
    for n, item in enumerate(items):
        plain = _plain_item(item)
        if plain is not None:
            found.append(plain)
            continue
        if not isinstance(item, dict):
            problems[f"items[{n}]"] = ["must be an object"]
            continue
        values = {}
        for field, (longest, trim, required) in ITEM_FIELDS.items():
            value, problem = _text(item.get(field), longest=longest, trim=trim, required=required)
            if problem:
                problems[f"items[{n}].{field}"] = [problem]
            values[field] = value
        if len(problems) >= MAX_PROBLEMS_LISTED:
            break
        found.append(MappingInput(**values))
    if problems:
        first = next(iter(problems))
        raise InvalidInput(f"{first}: {problems[first][0]}", fields=problems)
    return found


def _plain_item(item: object) -> MappingInput | None:
    """The usual item (ASCII strings within their lengths, no NUL) checked in one go; None
    sends it through the field-by-field checks (`_text`), which accept the same values and
    name the problem of any other."""
    if type(item) is not dict:
        return None
    subject, namespace, item_id = item.get("subject"), item.get("namespace"), item.get("item_id")
    api = item.get("api", "")
    if not (
        type(subject) is str
        and type(namespace) is str
        and type(item_id) is str
        and type(api) is str
    ):
        return None
    subject, namespace, api = subject.strip(), namespace.strip(), api.strip()
    every = subject + namespace + item_id + api
    if (
        subject
        and namespace
        and item_id
        and len(subject) <= ITEM_FIELDS["subject"][0]
        and len(namespace) <= ITEM_FIELDS["namespace"][0]
        and len(item_id) <= ITEM_FIELDS["item_id"][0]
        and len(api) <= ITEM_FIELDS["api"][0]
        and every.isascii()
        and "\x00" not in every
    ):
        return MappingInput(subject=subject, namespace=namespace, item_id=item_id, api=api)
    return None


def _text(value: object, *, longest: int, trim: bool, required: bool) -> tuple[str, str]:
    """(the value as stored, a problem or "")."""
    if value is None:
        return "", "required" if required else ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return "", "must be a string"
    text = str(value)
    if trim:
        text = text.strip()
    if not text:
        return "", "must not be empty" if required else ""
    if len(text) > longest:
        return "", f"at most {longest} characters"
    if "\x00" in text:
        return "", "must not hold a NUL character"
    if not text.isascii():  # an ASCII string (the usual id) holds no surrogate
        try:
            text.encode()
        except UnicodeEncodeError:
            return "", "must not hold a lone surrogate"
    return text, ""


class MappingsRegisterApi(ApiView):
    required_scopes = (Scope.MAPPINGS_WRITE,)

    def items_and_namespaces(
        self, request: Request
    ) -> tuple[list[MappingInput], dict[NamespaceRef, Namespace]]:
        """The items and their namespaces, outside any transaction: a namespace not known
        yet is looked up in the namespace API's list, a call that can take seconds, and
        the Idempotency-Key's transaction must not stay open across it."""
        items = _mapping_inputs(request)
        return items, mappings_namespaces(items=items)

    @extend_schema(
        request=MappingsInputSerializer,
        responses={200: MappingsRegisterResultSerializer, 503: ErrorSerializer, **POST_ERRORS},
        operation_id="mappings_register",
        examples=[MAPPINGS_EXAMPLE],
        summary="Register which items belong to which subject (idempotent, bulk)",
        description=f"At most {MAX_ITEMS_PER_CALL:,} items per call; all or nothing. A "
        "namespace not known yet is looked up in the namespace API's list (503 when it "
        "cannot be reached). Items of a subject whose request is running join it at once.",
    )
    @idempotent(prepare=items_and_namespaces)
    def post(
        self, request: Request, prepared: tuple[list[MappingInput], dict[NamespaceRef, Namespace]]
    ) -> Response:
        items, namespaces = prepared
        result = mappings_register(items=items, namespaces=namespaces, actor=actor_of(request))
        return Response(MappingsRegisterResultSerializer(result).data)


class MappingsRemoveApi(ApiView):
    required_scopes = (Scope.MAPPINGS_WRITE,)

    @extend_schema(
        request=MappingsInputSerializer,
        responses={200: MappingsRemoveResultSerializer, **POST_ERRORS},
        operation_id="mappings_remove",
        examples=[MAPPINGS_EXAMPLE],
        summary="Remove mappings (bulk; ones that do not exist remove nothing)",
        description=f"At most {MAX_ITEMS_PER_CALL:,} items per call; all or nothing. Items "
        "already taken into an erasure request stay in it.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        result = mappings_remove(items=_mapping_inputs(request), actor=actor_of(request))
        return Response(MappingsRemoveResultSerializer(result).data)


class AliasesRegisterApi(ApiView):
    required_scopes = (Scope.MAPPINGS_WRITE,)

    class InputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            subject = serializers.CharField(max_length=512)
            kind = serializers.RegexField(
                KIND_PATTERN.pattern,
                max_length=40,
                help_text="Where the alias comes from: `email`, `okta`, `auth0`, ... "
                "(1-40 of a-z, 0-9, `_`, `.`, `-`).",
            )
            alias = serializers.CharField(max_length=MAX_ALIAS_LENGTH)

        items = ItemSerializer(  # type: ignore[call-arg]
            many=True, allow_empty=False, max_length=MAX_ALIASES_PER_CALL
        )

    class OutputSerializer(serializers.Serializer):
        received = serializers.IntegerField()
        created = serializers.IntegerField()
        conflicts = serializers.IntegerField(
            help_text="Aliases already registered to another subject: kept, never moved."
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, **POST_ERRORS},
        operation_id="aliases_register",
        examples=[
            OpenApiExample(
                "Two aliases of one subject",
                request_only=True,
                value={
                    "items": [
                        {"subject": "auth0|5f7c8ec7", "kind": "email", "alias": "ann@example.com"},
                        {"subject": "auth0|5f7c8ec7", "kind": "okta", "alias": "00u1a2b3c4"},
                    ]
                },
            )
        ],
        summary="Register other identifiers of subjects (bulk, idempotent)",
        description="Identity webhooks and the admin find a subject by an alias. Emails "
        "compare case-insensitively; only keyed hashes are stored.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated_body(self.InputSerializer, request)
        result = aliases_register(
            items=[AliasInput(**item) for item in data["items"]], actor=actor_of(request)
        )
        return Response(self.OutputSerializer(result).data)
