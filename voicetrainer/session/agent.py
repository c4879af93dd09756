"""A simulated agent that listens: each answer is chosen after hearing the caller's last line,
from a scripted playbook (``voicetrainer/data/agents/*.yaml``), voiced by a second TTS voice and
fed to the session as its microphone — through `MicSource` and Whisper like a real trainee.

    book = load_playbook("good")                               # or a path to a YAML file
    agent = PlaybookAgent(book, persona)                       # what to say after a caller line
    voice = AgentVoice(cache, agent_voice(persona)).load(agent.all_lines())  # 16 kHz clips, rendered before the call
    trainee = ListeningTrainee(agent, voice, session.track.active, lambda: session.caller_lines)

`ListeningTrainee.block(n)` is the microphone signal, like `simulate.ScriptedTrainee`, so
`SimulatedInputStream` paces it in real time for the demo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.audio.frames import Frame
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.errors import InputError
from voicetrainer.persona.schema import Persona
from voicetrainer.persona.tts import VoiceSettings

log = get_logger(__name__)

ANSWER_GAP_S = 0.7  # the agent starts this long after the caller's line ends
NOISE_DBFS = -62.0  # quiet room noise under the simulated microphone
AGENT_GAIN = 0.8  # the agent's TTS voice is scaled to this peak
FINAL_SITUATIONS = ("closing", "hang_up")  # after these the caller has ended the call


@dataclass(frozen=True)
class Reaction:
    when: str  # regex on the caller's last line (case-insensitive)
    say: str = ""
    repeat_last: bool = False
    again: bool = False


@dataclass(frozen=True)
class Playbook:
    name: str
    steps: tuple[str, ...]
    reactions: tuple[Reaction, ...] = ()
    fallback: tuple[str, ...] = ()  # said in turn once the steps are done
    facts_said: tuple[tuple[str, str], ...] = ()  # (persona id, the facts as this agent reads them back)


def agents_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("voicetrainer") / "data" / "agents"))


def load_playbook(name_or_path: str) -> Playbook:
    """A playbook by name (``good``, ``rude``: shipped) or path to a YAML file."""
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        path = agents_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in agents_dir().glob("*.yaml"))
            raise InputError(f"no agent playbook {name_or_path!r}; known: {', '.join(known)}", field="--agent")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        steps = tuple(str(s) for s in doc["steps"])
        reactions = tuple(Reaction(**r) for r in doc.get("reactions") or ())
        for r in reactions:
            re.compile(r.when)
        fallback = tuple(str(s) for s in doc.get("fallback") or ())
        said = tuple((str(k), str(v)) for k, v in (doc.get("facts_said") or {}).items())
        return Playbook(str(doc.get("name", "Alex")), steps, reactions, fallback, said)
    except (OSError, yaml.YAMLError, KeyError, TypeError, re.error) as e:
        raise InputError(f"bad agent playbook ({e})", path=path) from e


@dataclass
class PlaybookAgent:
    """Chooses the agent's next answer from what the caller just said (deterministic)."""

    book: Playbook
    persona: Persona
    step: int = 0
    used: set[int] = field(default_factory=set)
    last: str | None = None

    def fill(self, text: str) -> str:
        facts = dict(self.book.facts_said).get(self.persona.id) or " and ".join(
            speakable(f) for f in self.persona.scenario.facts[:2]) or "the problem you described"
        return text.format(facts=facts, facts_cap=facts[:1].upper() + facts[1:], name=self.book.name)

    def all_lines(self) -> list[str]:
        return [self.fill(s) for s in self.book.steps + self.book.fallback] + [
            self.fill(r.say) for r in self.book.reactions if r.say]

    def answer(self, caller_line: str) -> tuple[str | None, str]:
        """(what to say, why); (None, why) when the playbook has nothing left to say."""
        for i, r in enumerate(self.book.reactions):
            if (r.again or i not in self.used) and re.search(r.when, caller_line, re.IGNORECASE):
                if r.repeat_last and self.last:
                    self.used.add(i)
                    return self.last, f"reaction {i}: says the last answer again"
                if r.say:
                    self.used.add(i)
                    self.last = self.fill(r.say)
                    return self.last, f"reaction {i} to {r.when!r}"
        if self.step >= len(self.book.steps):
            if not self.book.fallback:
                return None, "playbook done"
            k = (self.step - len(self.book.steps)) % len(self.book.fallback)
            self.step += 1
            self.last = self.fill(self.book.fallback[k])
            return self.last, f"fallback {k + 1}"
        self.last = self.fill(self.book.steps[self.step])
        self.step += 1
        return self.last, f"step {self.step}"


def speakable(fact: str) -> str:
    """A fact as an agent says it: "$89.99 charged twice" -> "89 dollars 99 charged twice" (a
    synthetic voice reading "$89.99" is heard by Whisper as anything but a number)."""
    fact = re.sub(r"[$£€](\d+)\.(\d\d)\b", r"\1 dollars \2", fact)
    return re.sub(r"[$£€](\d[\d,]*)", r"\1 dollars", fact)


def agent_voice(persona: Persona, rate_wpm: int = 140) -> VoiceSettings:
    """A second voice, unlike the caller's: a male variant for a female caller and vice versa, at
    140 words/min (Whisper tiny.en heard "three to five" as "free to five" at 165)."""
    base, _, variant = persona.voice.voice.partition("+")
    voice = base if variant.startswith(("f", "grandma")) else f"{base}+f2"  # espeak's default voice is male
    return VoiceSettings(voice=voice, rate_wpm=rate_wpm, pitch=50, volume=0.9)


class AgentVoice:
    """The agent's lines as 16 kHz clips, rendered through the TTS render cache before the call."""

    def __init__(self, cache, voice: VoiceSettings):
        self.cache, self.voice = cache, voice
        self.clips: dict[str, np.ndarray] = {}

    def load(self, lines: list[str]) -> "AgentVoice":
        import soundfile as sf

        from voicetrainer.audio.playback import resample

        for text in lines:
            audio, rate = sf.read(str(self.cache.get(text, self.voice)), dtype="float32", always_2d=True)
            clip = resample(audio.mean(axis=1), rate, SAMPLE_RATE)
            peak = float(np.max(np.abs(clip))) or 1.0
            self.clips[text] = (clip * (AGENT_GAIN / peak)).astype(np.float32)
        return self

    def __getitem__(self, text: str) -> np.ndarray:
        return self.clips[text]


class ListeningTrainee:
    """The simulated microphone: silence (room noise) until the caller's latest line has ended,
    then the agent's answer to it. Same `block(n)` protocol as `simulate.ScriptedTrainee`.

    Args:
        agent: chooses the answers.
        voice: the agent's clips.
        caller_active: ``f(t_s) -> bool``, is the caller audible at session time t_s.
        caller_lines: ``f() -> list[dict]``: the session's caller lines so far
            (``{"text", "start_s", "end_s", "situation"}``), appended as they start playing.
    """

    def __init__(self, agent: PlaybookAgent, voice: AgentVoice, caller_active: Callable[[float], bool],
                 caller_lines: Callable[[], list[dict]], *, seed: int = 0):  # fmt: skip
        self.agent, self.voice = agent, voice
        self.caller_active, self.caller_lines = caller_active, caller_lines
        self._rng = np.random.default_rng(seed)
        self._noise_amp = 10 ** (NOISE_DBFS / 20)
        self._answered = 0  # caller lines answered (or skipped)
        self._clip: np.ndarray | None = None
        self._pos = 0
        self.position = 0  # samples produced
        self.spoken: list[tuple[float, float, int]] = []  # (start_s, end_s, index into texts)
        self.texts: list[str] = []
        self.decisions: list[dict] = []  # what the agent heard and why it answered so

    def text_of(self, i: int) -> str:
        return self.texts[i]

    def frames(self, *, max_s: float = 600.0) -> Iterator[Frame]:
        """Accelerated: frames as fast as they are consumed, until `max_s`."""
        index = 0
        while index * FRAME_SAMPLES / SAMPLE_RATE < max_s:
            yield Frame(self.block(FRAME_SAMPLES)[:, None], index * FRAME_SAMPLES / SAMPLE_RATE, index)
            index += 1

    def block(self, n: int) -> np.ndarray:
        out = (self._rng.standard_normal(n) * self._noise_amp).astype(np.float32)
        pos = 0
        while pos < n:
            t = (self.position + pos) / SAMPLE_RATE
            if self._clip is None:
                self._decide(t)
            if self._clip is None:
                pos += min(n - pos, FRAME_SAMPLES)
                continue
            take = min(n - pos, len(self._clip) - self._pos)
            out[pos : pos + take] += self._clip[self._pos : self._pos + take]
            pos += take
            self._pos += take
            if self._pos >= len(self._clip):
                self._clip = None
        self.position += n
        return out

    def _decide(self, t: float) -> None:
        lines = list(self.caller_lines())
        if len(lines) <= self._answered:
            return
        last = lines[-1]
        if last.get("situation") in FINAL_SITUATIONS:
            self._answered = len(lines)
            return
        if self.caller_active(t) or t < float(last.get("end_s", 0.0)) + ANSWER_GAP_S:
            return
        self._answered = len(lines)
        text, why = self.agent.answer(str(last.get("text", "")))
        self.decisions.append({"t_s": round(t, 3), "heard": last.get("text"), "says": text, "why": why})
        log.debug("agent at %.2f s heard %r -> %r (%s)", t, last.get("text"), text, why)
        if text is None:
            return
        self._clip, self._pos = self.voice[text], 0
        self.texts.append(text)
        self.spoken.append((t, t + len(self._clip) / SAMPLE_RATE, len(self.texts) - 1))
