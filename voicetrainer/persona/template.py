"""The commented persona template written by ``voicetrainer personas new ID``.

It validates exactly as written (tests check it), so a trainer can start from a working caller
and change one thing at a time, running ``voicetrainer personas validate`` after each edit.
"""

from __future__ import annotations

TEMPLATE = """\
# A practice caller for voicetrainer. Edit the words freely; keep the keys as they are.
# Check your edits with:   voicetrainer personas validate {id}.yaml
# Hear every line with:    voicetrainer personas preview {id}
# A key the program does not know (for example a typo like `angr_level`) is an error.
# Text with a colon (:) or starting with a quote should be put in "double quotes".

# Short id: lowercase letters, digits and dashes. Must be the same as the file name.
id: {id}
# The caller's name, as the trainee hears it.
name: Alex Morgan
# easy | medium | hard
difficulty: medium

scenario:
  # What happened, as you would brief the trainee.
  summary: Alex's new headphones arrived broken and the return label link does not work.
  # Account facts a good agent picks up and repeats back (order numbers, amounts, dates, names).
  # The caller also answers questions from them ("What's your order number?" -> "It's 55120.")
  # and corrects an agent who gets one wrong. A fact may be written in the long form to say
  # which questions it answers and how:  - {{fact: order 55120, topics: [order number], answers: ["It's 5-5-1-2-0."]}}
  facts:
    - order 55120
    - "$129 headphones"
    - delivered on Monday
  resolution:
    # What a good agent does to resolve the call, in plain words.
    description: Apologise, email a working return label today and send a replacement within 3 days.
    # What the trainee must have said at some point before the caller accepts. Choose from:
    # apology, empathy, ownership, timeframe, next_step, repeat_back, clarifying_question, gratitude
    requires: [apology, timeframe]
    # ... and the caller's anger (0-10) must have come down to this.
    max_anger: 3.5
    # How many times the caller pushes back (an `objection` line) before accepting; a weak
    # solution (no timeframe, or "soon") is always pushed back.
    objections: 0

voice:
  # piper = a neural voice: the built-in en_US joe, or any Piper voice file you have with
  #   model: /path/to/en_US-amy-medium.onnx   (its .onnx.json beside it), or just a name
  #   model: en_US-amy-medium                 (found in the voices folder, see personas/README.md)
  # espeak = espeak-ng formant voices: set `engine: espeak` and e.g. `voice: en-us+f3`
  #   (list them with `espeak-ng --voices` and `espeak-ng --voices=variant`).
  engine: piper
  rate_wpm: 170     # words per minute at their calmest; anger speeds it up a little
  pitch: 50         # 0-100, 50 = the voice's own (about 6 per semitone); anger raises it
  volume: 0.9       # 0-1; anger makes it louder and more strained

temperament:
  start_anger: 6    # 0 calm ... 10 furious
  patience: 5       # 0-10: tolerance for silence, a raised voice, rushing
  escalation: 1.0   # how fast they get angrier (1 = normal, 2 = twice as fast)
  calming: 1.0      # how fast they calm down (1 = normal, 0.5 = half as fast)
  talk_over: 0.3    # 0-1: how likely they keep talking when interrupted
  hang_up_at: 10    # they hang up when anger reaches this
  max_turns: 14     # they give up after this many answers from the trainee

# What the caller says, by situation. Several lines each; they are picked without repeating.
lines:
  opening:
    - Hi. My headphones arrived broken and your return link doesn't even work.
    - Yes, hello. I've got a broken pair of headphones here and no way to send them back.
  complaint:
    - They were a hundred and twenty nine dollars and they don't work.
    - The left side is dead and the return link gives me an error.
  escalation:
    - This is exactly the kind of answer that makes me never want to order again.
    - You're not listening to me at all.
  interrupted:
    - Let me finish!
    - Can I finish what I'm saying, please?
  silence:
    - Hello? Are you still there?
    - Did I lose you?
  jargon:
    - I don't know what that means.
    - Can you say that in normal words?
  empathy_received:
    - Okay. Thank you for saying that.
    - Well, at least someone gets it.
  solution_received:
    - Okay, so when exactly will I get the label?
    - Fine, as long as that really happens.
  closing:
    - Okay, that works. Thanks for sorting it out.
  hang_up:
    - Forget it. I'll just dispute the charge. Goodbye.
  # Optional (built-in lines are used without them): pushing back on a weak solution, asking
  # what the agent means after an off-topic or garbled answer, not knowing an answer.
  objection:
    - That's not good enough. I need the label today, not someday.
  clarify:
    - Sorry, what? What does that have to do with my headphones?
  dont_know:
    - I don't know that. I just know they're broken.
"""


def render_template(persona_id: str) -> str:
    return TEMPLATE.format(id=persona_id)
