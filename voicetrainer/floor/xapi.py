"""xAPI 1.0.3 statements (https://github.com/adlnet/xAPI-Spec, xAPI-Data.md) as pydantic models
that refuse what the spec forbids, and the statement for one graded call.

One statement per graded call:
- actor: the recruit, an Agent identified by an account (homePage = the server's URL, name =
  the account name) - no e-mail addresses are invented;
- verb: ``passed`` / ``failed`` when the call counts towards an assignment (its score against
  the target), else ``completed``;
- object: the persona as an Activity (id ``<base>personas/<id>``, name = the persona's name,
  type = ADL's simulation activity);
- result: score (scaled 0..1, raw/min/max 0..100: the overall score), success (the assignment's
  measure - the overall score or one skill - against its target; only with an assignment; the
  ``target`` extension says which measure and its value), completion, duration (ISO 8601, 0.01 s precision), extensions:
  the per-skill scores, the call's outcome, the target and measure;
- context: platform, language, the cohort (grouping) and the assignment (parent) as Activities;
- id: a UUID derived from the session (exporting the same call twice gives the same id, so an
  LRS keeps one copy); timestamp: when the call took place, in UTC.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

XAPI_VERSION = "1.0.3"
VERBS = {
    "completed": "http://adlnet.gov/expapi/verbs/completed",
    "passed": "http://adlnet.gov/expapi/verbs/passed",
    "failed": "http://adlnet.gov/expapi/verbs/failed",
}
ACTIVITY_SIMULATION = "http://adlnet.gov/expapi/activities/simulation"
ACTIVITY_GROUP = "http://id.tincanapi.com/activitytype/group"  # a cohort (Tin Can registry)
ACTIVITY_ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"  # an assignment with a target
LANG = "en-US"
# ISO 8601 duration as the spec requires (section 4.4.3.2 form only): PnYnMnDTnHnMnS
DURATION_RE = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")  # scheme ":" no spaces (RFC 3987, loosely)
LANG_TAG_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")  # RFC 5646 shape


def _iri(v: str) -> str:
    if not IRI_RE.match(v):
        raise ValueError(f"{v!r} is not an IRI")
    return v


def _lang_map(v: dict[str, str]) -> dict[str, str]:
    for k in v:
        if not LANG_TAG_RE.match(k):
            raise ValueError(f"{k!r} is not an RFC 5646 language tag")
    return v


def _extensions(v: dict[str, Any] | None) -> dict[str, Any] | None:
    for k in v or {}:
        _iri(k)
    return v


class _X(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Account(_X):
    home_page: str = Field(alias="homePage")
    name: str = Field(min_length=1)

    _home = field_validator("home_page")(lambda cls, v: _iri(v))


class Agent(_X):
    object_type: Literal["Agent"] = Field("Agent", alias="objectType")
    name: str | None = None
    account: Account  # the one inverse functional identifier used here


class Verb(_X):
    id: str
    display: dict[str, str]

    _id = field_validator("id")(lambda cls, v: _iri(v))
    _display = field_validator("display")(lambda cls, v: _lang_map(v))


class ActivityDefinition(_X):
    name: dict[str, str] | None = None
    description: dict[str, str] | None = None
    type: str | None = None
    extensions: dict[str, Any] | None = None

    _maps = field_validator("name", "description")(lambda cls, v: _lang_map(v) if v is not None else v)
    _type = field_validator("type")(lambda cls, v: _iri(v) if v is not None else v)
    _ext = field_validator("extensions")(lambda cls, v: _extensions(v))


class Activity(_X):
    object_type: Literal["Activity"] = Field("Activity", alias="objectType")
    id: str
    definition: ActivityDefinition | None = None

    _id = field_validator("id")(lambda cls, v: _iri(v))


class Score(_X):
    scaled: float | None = Field(None, ge=-1.0, le=1.0)
    raw: float | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> "Score":
        for k in ("scaled", "raw", "min", "max"):
            v = getattr(self, k)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"score.{k} is not a finite number")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError("score.min must be less than score.max")
        if self.raw is not None and ((self.min is not None and self.raw < self.min)
                                     or (self.max is not None and self.raw > self.max)):
            raise ValueError("score.raw must lie between min and max")
        return self


class Result(_X):
    score: Score | None = None
    success: bool | None = None
    completion: bool | None = None
    duration: str | None = None
    extensions: dict[str, Any] | None = None

    _ext = field_validator("extensions")(lambda cls, v: _extensions(v))

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and not DURATION_RE.match(v):
            raise ValueError(f"{v!r} is not an ISO 8601 duration")
        return v


class ContextActivities(_X):
    parent: list[Activity] | None = None
    grouping: list[Activity] | None = None
    category: list[Activity] | None = None
    other: list[Activity] | None = None


class Context(_X):
    registration: uuid.UUID | None = None
    context_activities: ContextActivities | None = Field(None, alias="contextActivities")
    platform: str | None = None
    language: str | None = None
    extensions: dict[str, Any] | None = None

    _ext = field_validator("extensions")(lambda cls, v: _extensions(v))


class Statement(_X):
    id: uuid.UUID
    actor: Agent
    verb: Verb
    object: Activity
    result: Result | None = None
    context: Context | None = None
    timestamp: datetime
    version: Literal["1.0.3"] = XAPI_VERSION

    @field_validator("timestamp")
    @classmethod
    def _tz(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("timestamp needs a time zone")
        return v

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["timestamp"] = iso_utc(self.timestamp)
        return out


def iso_utc(when: datetime) -> str:
    """``2026-11-29T09:30:00.000Z``: UTC, millisecond precision."""
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_duration(seconds: float) -> str:
    """Seconds as an ISO 8601 duration with 0.01 s precision: 192.347 -> ``PT3M12.35S``."""
    cs = max(0, round(float(seconds) * 100))  # centiseconds
    h, rem = divmod(cs, 360000)
    m, rem = divmod(rem, 6000)
    s = rem / 100
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "")
    if s or out == "PT":
        out += f"{s:.2f}".rstrip("0").rstrip(".") + "S"
    return out


def statement_id(base_url: str, session_key: str) -> uuid.UUID:
    """The same call exported twice keeps its statement id (an LRS then stores it once)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}sessions/{session_key}")


def ext(base_url: str, name: str) -> str:
    """The IRI of one of voicetrainer's extensions: ``<base>xapi/extensions/<name>``."""
    return f"{base_url}xapi/extensions/{name}"
