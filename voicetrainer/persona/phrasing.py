"""How the caller says things the persona file has no line for, in character and mood.

Answers from the scenario's facts ("Ugh. It ends in 4471."), "I told you already", corrections,
"I don't know", "what?", objections, and impatience that grows in words (templated with the
facts and the elapsed time) once the persona's own lines are used up. Every phrase depends on
the mood band (0 calm .. 3 furious, ``tts.mood_band``) so the words fit the voice.

A persona's own ``lines.objection`` / ``lines.clarify`` / ``lines.dont_know`` replace the
built-in ones below.
"""

from __future__ import annotations

import re

# -- per mood band: calm, upset, angry, furious
ANSWER_LEADS = (("Sure.", "Yes, of course."), ("Okay.", "Right."), ("Ugh.", "Fine."), ("Look,", "Seriously?"))
CONFIRM = ("Yes, that's right.", "Yes. That's right.", "Yes. Exactly.", "Yes! That's what I said.")
TOLD_YOU = ("As I said,", "Like I said,", "I told you already:", "I already told you!")
SAID_IT = ("Like I said,", "Like I said,", "I said it already.", "I said it already!")
CORRECT = ("Sorry, no, not {wrong}.", "No, not {wrong}.", "No! Not {wrong}.", "No! Not {wrong}! Are you even listening?")
NAME_LEADS = ("It's {name}.", "It's {name}.", "{name}.", "{name}. Like I said at the start.")
DONT_KNOW = (
    ("Hmm, I'm not sure about that, sorry.", "I don't know that, I'm afraid."),
    ("I don't know that.", "I'm not sure. Why does that matter?"),
    ("How would I know that?", "I don't know! That's your job to find out."),
    ("I have no idea and I don't care. Just fix it.", "How should I know? You're the company!"),
)
CLARIFY = (
    ("Sorry, what do you mean?", "I'm sorry, I didn't follow that.", "Sorry, can you say that again?"),
    ("What? I don't follow you.", "Sorry, what does that mean?", "I didn't catch that. What are you saying?"),
    ("What? What does that have to do with anything?", "What are you talking about?", "Sorry, what? Say that again."),
    ("What?! That makes no sense.", "What are you even talking about?", "Are you listening to me at all?"),
)
CLARIFY_UNCLEAR = ("Sorry, you're breaking up. What was that?", "What? I didn't hear you.",
                   "Hello? You cut out. What did you say?", "What was that? I can't hear you.")  # fmt: skip
OBJECTION = (
    "That's not good enough. When, exactly?",
    "That's it? I need an actual date, not a maybe.",
    "Soon isn't a date. When will this be done?",
    "I've heard that before. What will actually happen, and when?",
    "No. I need this sorted today, not someday.",
)
SMALL_TALK = ("I've had better days, honestly.", "Not great, that's why I'm calling.",
              "How do you think I am?", "Terrible. Can we get to it?")  # fmt: skip
HOLD = ("Okay, but please don't leave me waiting.", "Fine. Don't be long.",
        "Fine, but don't leave me on hold forever.", "Seriously? Fine. Be quick.")  # fmt: skip
HEAR = ("Yes, I can hear you.", "Yes, I'm here.", "Yes, I'm here. Go on.", "Yes! I'm still here. Waiting.")
MISSING = {
    "apology": "an apology would be a start",
    "empathy": "nobody has even said they understand",
    "ownership": "I still don't know who is going to sort this out",
    "timeframe": "you still haven't told me when this will be fixed",
    "next_step": "you still haven't told me what happens next",
    "repeat_back": "I'm not sure you even got what I told you",
    "clarifying_question": "you haven't even asked me what happened",
    "gratitude": "you haven't even said thank you for waiting",
    "greeting": "you didn't even say hello",
}
# a calm caller who is not yet satisfied asks for what is missing (resolution.requires)
ASK_MISSING = {
    "apology": ("Nobody has even said sorry yet.", "Is anyone going to apologise for this?"),
    "empathy": ("Do you understand why this upsets me?", "Does anyone there get how stressful this is?"),
    "ownership": ("Who is actually going to take care of this?", "Will you handle it yourself, or do I call again?"),
    "timeframe": ("So when exactly will this be done?", "I need a date. When will it be sorted?"),
    "next_step": ("What happens now, exactly?", "So what are you going to do next?"),
    "repeat_back": ("Can you tell me back what you're fixing, so I know you got it right?",
                    "Just so we're clear: what exactly are you fixing?"),
    "clarifying_question": ("Don't you want to know what happened?", "Aren't you going to ask me anything?"),
    "gratitude": ("I've been waiting a long time, you know.", "A thank you for my patience would be nice."),
    "greeting": ("You could at least say hello.", "Hello to you too."),
}
ANYTHING_ELSE = ("Well, yes: {missing}.", "Yes! {missing_cap}.", "Anything else? {missing_cap}!")

# -- impatience once the persona's lines are used up: {elapsed}, {fact}, {promise}
STALL = (
    "I've been on this call for {elapsed} and nothing has happened.",
    "It's {fact}. How many times do I have to say it?",
    "Can you just tell me what you're going to do?",
    "{elapsed} on the phone and I still don't have an answer.",
    "I told you: {fact}. What are you going to do about it?",
    "You're not telling me anything. What happens next?",
    "Is there anyone there who can actually help me?",
    "Still nothing? I called to get this fixed, not to chat.",
    "I'm running out of patience. {elapsed} for this.",
    "Just tell me when this will be fixed.",
    "Every minute on this call is a minute I don't have.",
    "So far I've heard nothing useful. {fact}, remember?",
    "Are you writing any of this down? {fact}.",
    "Do I need to call back and talk to someone else?",
)
STALL_PROMISED = ("You said {promise}. Is that still happening?", "So {promise}, right? Then why are we still talking?")
SILENCE = (
    "Hello? I've been waiting {silence} seconds.",
    "Are you still there? It's been {silence} seconds.",
    "Hello? Did you hang up on me?",
    "I can't hear anything. Hello?",
    "Hello?! {silence} seconds of nothing. Is anyone there?",
    "Did you put me on hold without saying so?",
)
ESCALATION = (
    "That's it, I'm losing my patience.",
    "You're making this worse, you know that?",
    "Unbelievable. {elapsed} for this?",
    "Don't talk to me like that.",
    "I can't believe how this is going.",
    "This is exactly why I'm angry. {fact}, and you don't care.",
)
EMPATHY = ("Okay. Thank you for saying that.", "Fine. I appreciate it.", "Alright. I just want this sorted.",
           "Thanks. Now can we fix it?", "Okay. That helps a little.")  # fmt: skip
JARGON = ("What is '{jargon}'? Plain English, please.", "I don't know what '{jargon}' means.",
          "Can you say that without the jargon?", "I'm not a technician. What does that mean?")  # fmt: skip
INTERRUPTED = ("Let me finish, please!", "I'm still talking.", "Stop cutting me off!", "Can I finish?")
SOLUTION = ("Okay. So {promise}, right?", "So {promise}? I'm holding you to that.", "Alright. {promise_cap}. Good.")
COMPLAINT = STALL

TEMPLATES: dict[str, tuple[str, ...]] = {
    "complaint": STALL, "silence": SILENCE, "escalation": ESCALATION, "empathy_received": EMPATHY,
    "jargon": JARGON, "interrupted": INTERRUPTED, "solution_received": SOLUTION, "objection": OBJECTION,
}  # fmt: skip


def elapsed_words(t_s: float) -> str:
    """Call time as the caller says it: "a minute", "almost two minutes", "five minutes"."""
    if t_s < 50:
        return "almost a minute"
    minutes = t_s / 60
    if minutes < 1.5:
        return "over a minute"
    whole = int(round(minutes))
    names = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
    return f"{names.get(whole, str(whole))} minutes"


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def fact_phrase(fact_text: str) -> str:
    """A fact inside a sentence: "$89.99 charged twice" stays as written, without a final stop."""
    return fact_text.strip().rstrip(".")


def lower_first(text: str) -> str:
    """Lower-case the first letter unless it starts "I", an acronym or an amount."""
    return text if re.match(r"I\b|[A-Z]{2}|[$£€]", text) else text[:1].lower() + text[1:]


def after(lead: str, core: str) -> str:
    """`core` after `lead`: capitalised after a full stop, lower-case after a colon or comma."""
    return f"{lead} {capitalise(core) if lead.endswith(('.', '!', '?')) else lower_first(core)}"
