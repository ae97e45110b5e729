"""Schemathesis hooks for the ScaiVault Audit Log API.

Drops only failures that come from what JSON Schema cannot say, never a 5xx or a wrong shape:
- ST202 (a schema-valid request refused) when every field the 400 names is a server-issued token
  (a page `cursor`, a stream position) or a rule across fields or beyond a pattern: from < to,
  calendar dates, 1970-2261, interval and baseline against the window, from_size <= to_size,
  EXPORT_ENDPOINT_ALLOWLIST (an export's endpoint, a destination's receiver).
- ST201 (a schema-violating request accepted) on POST /v1/audit/events answered 200 with the bad
  events in `rejected`: per-event refusal inside a 200 is the documented contract.
"""
import json
import re

import schemathesis

# (field, message prefix); None: any message for that field.
BEYOND_A_SCHEMA = [
    ("cursor", None),
    ("Last-Event-ID", None),
    ("from", "must be before to"),
    ("from", "is not a valid calendar date"),
    ("to", "is not a valid calendar date"),
    ("from", "must lie between 1970 and 2261"),
    ("to", "must lie between 1970 and 2261"),
    ("from", "lies after 2261"),
    ("to", "lies after 2261"),
    ("from", "lies before 1970"),
    ("to", "lies before 1970"),
    ("interval", "is too small for this window"),
    ("baseline", "must be at least as long as the window"),
    ("baseline", "holds "),
    ("baseline", "reaches before 1970"),
    ("from_size", "is past to_size"),
    ("from_leaf", "cannot be combined with from or to"),
    ("to_leaf", "cannot be combined with from or to"),
    ("from_leaf", "must not be past to_leaf"),
    ("destination.endpoint", "origin "),
    ("destination.container_url", "origin "),
    ("destination.account", "origin "),
]


def _body(response):
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


# A destination's receiver: its URL, syslog host or a Kafka broker, refused by the allowlist.
RECEIVER_ENDPOINT = re.compile(r"config\.(url|host|brokers\.\d+)")


def _beyond_a_schema(error):
    field, message = error.get("field") or "", error.get("message", "")
    if field.startswith("filters."):  # an export's filters are the /logs filters as JSON
        field = field[len("filters."):]
    if RECEIVER_ENDPOINT.fullmatch(field) and message.startswith("origin "):
        return True
    return any(field == f and (p is None or message.startswith(p)) for f, p in BEYOND_A_SCHEMA)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    code = getattr(failure, "code", None)
    body = _body(response)
    if code == "ST202" and response.status_code == 400 and body is not None:
        errors = body.get("errors") or []
        if errors and all(_beyond_a_schema(e) for e in errors):
            return False
    if (
        code == "ST201"
        and response.status_code == 200
        and case.operation.method.upper() == "POST"
        and case.operation.path == "/v1/audit/events"
        and body is not None
        and body.get("rejected")
    ):
        return False
    return True
