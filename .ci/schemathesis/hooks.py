"""Schemathesis hooks for `.ci/fuzz`: log in as the role under test, and say which refusals of a
schema-valid request are the server's documented rules rather than a disagreement with the spec.

Environment: FUZZ_BASE (the server), FUZZ_USER, FUZZ_PASSWORD, FUZZ_ROLE.
"""

import json
import os
import re
import urllib.request

import schemathesis

BASE = os.environ["FUZZ_BASE"]
USER = os.environ["FUZZ_USER"]
PASSWORD = os.environ["FUZZ_PASSWORD"]
ROLE = os.environ["FUZZ_ROLE"]


def _call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _login():
    answer = _call(
        "POST",
        "/api/v1/auth/login",
        body={"organisation": "tyreso", "username": USER, "password": PASSWORD, "device_id": f"fuzz-{USER}"},
    )
    return answer["access_token"]


OWN_ID = _call("GET", "/api/v1/me", token=_login())["id"]


# Logs in again whenever an answer is 401: a request that ends the caller's own session (a new
# unit or role for themselves, say) does not end the run.
@schemathesis.auth(refresh_interval=600)
class Login:
    def get(self, case, context):
        return _login()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def filter_case(context, case):
    """An administrator giving themselves a new password could not log in again: left out."""
    operation = case.operation
    return not (
        operation.method.upper() == "PATCH"
        and operation.path == "/api/v1/users/{id}"
        and (case.path_parameters or {}).get("id") == OWN_ID
        and isinstance(case.body, dict)
        and "password" in case.body
    )


def _texts(value):
    """Every string in a request part, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def _request_texts(case):
    for part in (case.path_parameters, case.query, case.headers, case.body):
        yield from _texts(part or {})


def _has_nul(case):
    return any("\x00" in text for text in _request_texts(case))


def _has_control(case):
    return any(any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text) for text in _request_texts(case))


# Refusals of a schema-valid request that are rules JSON Schema cannot state, each with the
# predicate on the request that shows the rule applies. Anything else fails the run.
RULES = {
    # No text anywhere may hold U+0000 (PostgreSQL cannot store it); every text field says so.
    "invalid_character": _has_nul,
    # Names and device names hold no control characters.
    "invalid_characters": _has_control,
    # Opaque tokens: only values the server issued are valid.
    "invalid_cursor": lambda case: True,
    "invalid_page_token": lambda case: True,
    # Calendar rules: a date of the right form that does not exist, a range that ends before
    # it starts or spans more than ten years, a year outside 1900-2100 (2000-2100 for a
    # measure's planned dates).
    "invalid_period": lambda case: True,
    "invalid_time": lambda case: True,
    "before_start": lambda case: True,
    "invalid_date": lambda case: True,
    "invalid_week": lambda case: True,
    # A time window names both its hours or neither.
    "hours_in_pairs": lambda case: True,
    # Free-form parameters whose grammar their description states: `hours` (18-24, 22-4, not
    # 5-5), `weekday` (1-7 or mon..sun), and `group_by` (below).
    "invalid_hours": lambda case: True,
    "invalid_weekday": lambda case: True,
    # `group_by` of the activity report: a comma-separated list of the groupings its description
    # names, gender and age band not together.
    "invalid_group": lambda case: True,
    "not_crossed": lambda case: True,
    # A required text that is blank once trimmed.
    "required": lambda case: any(isinstance(v, str) and not v.strip() for v in _request_texts(case)),
    # `jobs` cannot be an area code (it names /api/v1/areas/jobs).
    "reserved_code": lambda case: any(t.strip() == "jobs" for t in _request_texts(case)),
    # JSON Schema counts 50.0 as an integer; the API reads integers written without a fraction.
    "invalid_type": lambda case: _has_integral_float(case.body),
    # Uniqueness within an array of objects (one value per group and year), and changes that
    # depend on what is stored (groups that already have values, areas shared only with
    # partners).
    "duplicate_group": lambda case: True,
    "group_has_values": lambda case: True,
    "not_a_partner": lambda case: True,
    # Partners get counts only, never positions.
    "aggregates_only": lambda case: ROLE == "partner",
    # A bulk review changes something: a status, a comment or both (absent or null is neither).
    "nothing_to_change": lambda case: isinstance(case.body, dict)
    and case.body.get("status") is None
    and "review_comment" not in case.body,
    # `period` and `from`/`to` exclude each other.
    "conflicting": lambda case: True,
    # Partners may use whole tertials, areas and categories only (api-spec/partner-disclosure.md).
    "not_for_partners": lambda case: ROLE == "partner",
}


def _has_integral_float(value):
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_has_integral_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_integral_float(item) for item in value)
    return False


# An area import's geometry rules and the relations between its features.
AREA_GEOMETRY = re.compile(r"^features(\[\d+\]\.(geometry|properties\.(code|parent_code)))?$")


def _references_or_rules(problem, case):
    errors = problem.get("errors") or []
    if not errors:
        return False
    for error in errors:
        code = error.get("code", "")
        if case.operation.path == "/api/v1/areas" and AREA_GEOMETRY.match(error.get("field", "")):
            continue
        # A reference to something that does not exist in this organisation (a unit, an
        # indicator group, an area, a category).
        if code.startswith("unknown_") or code == "not_found":
            continue
        rule = RULES.get(code)
        if rule is None or not rule(case):
            return False
    return True


# Names the API does not know are ignored, not refused: header fields, as RFC 9110 (section 5.1)
# asks of recipients, and query parameters (a cache-buster, say).
IGNORED_NAMES = (
    "in header - object with unexpected properties",
    "header: violates `additionalProperties`",
    "query: violates `additionalProperties`",
    "in query - object with unexpected properties",
)


def _only_unknown_names(message):
    """Whether every way a negative request broke the spec is a name the API does not know."""
    _, _, components = message.partition("Invalid component:")
    parts = [line.strip().lstrip("- ").strip() for line in components.strip().splitlines() if line.strip()]
    return bool(parts) and all(any(name in part for name in IGNORED_NAMES) for part in parts)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure except a schema-valid request refused by one of the rules above."""
    if failure.code == "ST201":
        # 426 refuses the request too: an app too old (or too new) for the server hears that
        # first, whatever else is wrong with its request.
        if response.status_code == 426:
            return False
        return not _only_unknown_names(failure.message)
    if failure.code != "ST202":
        return True
    try:
        problem = json.loads(response.content)
    except ValueError:
        return True
    code = problem.get("code")
    status = response.status_code
    if status == 422 and code == "validation_failed":
        return not _references_or_rules(problem, case)
    # The app's schema version outside what `GET /api/v1/sync/info` says is served.
    if status == 426 and code == "schema_version_unsupported":
        return False
    # Schemathesis sends the body as it is while the header it generated says it is
    # compressed; the server cannot decode it.
    encoding = {k.lower(): v for k, v in (case.headers or {}).items()}.get("content-encoding", "identity")
    if status == 400 and code == "unreadable_body" and encoding.strip().lower() != "identity":
        return False
    # A partner asking for an area that is not shared with them, or a role refused an
    # operation: authorization, which the spec states in `x-required-role`.
    return True
