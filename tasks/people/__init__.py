"""People in the loop: one way to ask a person, remind, escalate, apply a deadline and take
an answer, for every process that waits for someone (`models.asks` holds the ask and its
pure rules; a process adds a `Kind`).

    asking     open an ask once, mail its person a one-time code
    answering  take an answer from the form or the terminal, proved by the code
    watching   remind, escalate, apply the deadline, name the runs to wake
    pending    what waits for whom
"""

from tasks.people.answering import Given, Outcome, answer, unlock
from tasks.people.asking import employee, event, find_ask, issue_code, load_ask, open_ask
from tasks.people.context import AskContext, ask_context_from, timing_of
from tasks.people.kinds import Kind, Purpose
from tasks.people.pending import Pending, pending
from tasks.people.watching import Counts, Wake, to_wake, watch, woken

__all__ = [
    "AskContext",
    "Counts",
    "Given",
    "Kind",
    "Outcome",
    "Pending",
    "Purpose",
    "Wake",
    "answer",
    "ask_context_from",
    "employee",
    "event",
    "find_ask",
    "issue_code",
    "load_ask",
    "open_ask",
    "pending",
    "timing_of",
    "to_wake",
    "unlock",
    "watch",
    "woken",
]
