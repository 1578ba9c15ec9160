"""Deliveries shaped exactly as each provider documents them (identity-webhooks.md, with
the sources it cites)."""

from __future__ import annotations

import json
from typing import Any

CLERK_USER_DELETED = (
    b'{"data":{"deleted":true,"id":"user_29wBMCtzATuFJut8jO2VNTVekS4","object":"user"},'
    b'"event_attributes":{"http_request":{"client_ip":"0.0.0.0","user_agent":"Mozilla/5.0 '
    b"(Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    b'Chrome/128.0.0.0 Safari/537.36"}},'
    b'"object":"event","timestamp":1661861640000,"type":"user.deleted"}'
)
CLERK_USER_ID = "user_29wBMCtzATuFJut8jO2VNTVekS4"


def clerk(event_type: str, user_id: str) -> bytes:
    return json.dumps(
        {
            "data": {"id": user_id, "object": "user", "email_addresses": []},
            "event_attributes": {"http_request": {"client_ip": "203.0.113.7", "user_agent": "x"}},
            "object": "event",
            "timestamp": 1661861640000,
            "type": event_type,
        },
        separators=(",", ":"),
    ).encode()


def okta_event(event_type: str, uuid: str, user_id: str, email: str) -> dict[str, Any]:
    """One System Log event of an Event Hook batch; the actor is the admin."""
    return {
        "uuid": uuid,
        "published": "2023-03-26T21:05:32.159Z",
        "eventType": event_type,
        "version": "0",
        "displayMessage": "Delete Okta user initiated",
        "severity": "INFO",
        "client": {"ipAddress": "10.0.0.1"},
        "actor": {
            "id": "00uz9fj5aT69fHVro1d6",
            "type": "User",
            "alternateId": "admin@okta.com",
            "displayName": "Admin Name",
            "detailEntry": None,
        },
        "outcome": {"result": "SUCCESS", "reason": None},
        "target": [
            {
                "id": user_id,
                "type": "User",
                "alternateId": email,
                "displayName": "John Doe",
                "detailEntry": None,
            }
        ],
    }


def okta(*events: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": "https://example.okta.com/api/v1/eventHooks/who7hphp39JoHLni81d7",
            "eventId": "85b60edb-4263-4e13-993b-818e26201052",
            "eventTime": "2023-03-28T17:03:37.093Z",
            "contentType": "application/json",
            "data": {"events": list(events)},
        }
    ).encode()


def auth0_entry(log_type: str, log_id: str, user_id: str) -> dict[str, Any]:
    """A Log Streams entry: `{"log_id", "data": {<tenant log event>}}`."""
    return {
        "log_id": log_id,
        "data": {
            "date": "2024-05-01T10:00:00.000Z",
            "type": log_type,
            "description": "Successful User Deletion",
            "connection": "Username-Password-Authentication",
            "connection_id": "con_abc",
            "client_id": "",
            "client_name": "",
            "ip": "10.0.0.1",
            "user_agent": "node",
            "details": {},
            "user_id": user_id,
            "user_name": "jane@example.com",
            "strategy": "auth0",
            "strategy_type": "database",
            "log_id": log_id,
            "tenant_name": "acme",
            "environment_name": "prod",
        },
    }


def workos(event_type: str, event_id: str, user_id: str, **data: Any) -> bytes:
    obj = "directory_user" if event_type.startswith("dsync.") else "user"
    return json.dumps(
        {
            "object": "event",
            "id": event_id,
            "event": event_type,
            "data": {"object": obj, "id": user_id, "email": "jane@example.com", **data},
            "created_at": "2023-11-14T22:13:20.000Z",
        },
        separators=(",", ":"),
    ).encode()


def keycloak_admin(operation: str, uid: str, user_id: str, **extra: Any) -> bytes:
    """p2-inc's unified admin event: the user only in resourcePath, the admin in authDetails."""
    return json.dumps(
        {
            "uid": uid,
            "id": f"evt-{uid}",
            "time": 1700000000000,
            "realmId": "master",
            "realmName": "master",
            "type": f"admin.USER-{operation}",
            "resourceType": "USER",
            "operationType": operation,
            "resourcePath": f"users/{user_id}",
            "authDetails": {
                "realmId": "master",
                "clientId": "security-admin-console",
                "userId": "admin-0000",
                "ipAddress": "10.0.0.1",
                "username": "admin",
            },
            "details": {},
            **extra,
        }
    ).encode()


def keycloak_access(event_type: str, uid: str, user_id: str) -> bytes:
    return json.dumps(
        {
            "uid": uid,
            "id": f"evt-{uid}",
            "time": 1700000000000,
            "realmId": "master",
            "realmName": "master",
            "type": f"access.{event_type}",
            "authDetails": {"realmId": "master", "clientId": "account", "userId": user_id},
            "details": {},
        }
    ).encode()
