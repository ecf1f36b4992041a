"""The onboarding order's steps (§4, §6.1), each a plain function over a session, batch-wide.

Every step reads the orders' `status` and does only what is left, so a retried task, a
re-run flow or a flow resumed after a suspension passes safely over what is done. Audit
events and e-mails are written in the same transaction as the change they describe; the
audit trail of an order reads as its story, a module per stage:

    requested → checked → approved → ordered → delivered → registered → notified

with `watch` (deliveries for waiting runs) beside them, `base` what
they share, and `prefect_tasks` the Prefect task of each step. The rules the steps apply are
in `models.onboarding_rules`, what they tell people in `models.onboarding_notices`.
"""

from tasks.onboarding.approved import (
    APPROVAL,
    ApprovalWait,
    DecisionOutcome,
    ask_for_approval,
    decide,
)
from tasks.onboarding.base import STOCKHOLM, Context, context_from
from tasks.onboarding.checked import check_orders
from tasks.onboarding.delivered import (
    DeliveryWait,
    collect_deliveries,
    record_delivery,
)
from tasks.onboarding.notified import notify
from tasks.onboarding.ordered import operator_order, place_orders
from tasks.onboarding.prefect_tasks import (
    adopt_task,
    ask_task,
    check_task,
    collect_task,
    decide_task,
    notify_task,
    outcome_task,
    place_task,
    receive_task,
    record_delivery_task,
    register_task,
    watch_task,
)
from tasks.onboarding.registered import register
from tasks.onboarding.requested import (
    RequestRace,
    UnknownEmployee,
    adopt,
    order_summary,
    receive,
)
from tasks.onboarding.summary import outcome_rows, status_counts
from tasks.onboarding.watch import Resume, watch_deliveries

__all__ = [
    "APPROVAL",
    "STOCKHOLM",
    "ApprovalWait",
    "Context",
    "DecisionOutcome",
    "DeliveryWait",
    "RequestRace",
    "Resume",
    "UnknownEmployee",
    "adopt",
    "adopt_task",
    "ask_for_approval",
    "ask_task",
    "check_orders",
    "check_task",
    "collect_deliveries",
    "collect_task",
    "context_from",
    "decide",
    "decide_task",
    "notify",
    "notify_task",
    "operator_order",
    "order_summary",
    "outcome_rows",
    "outcome_task",
    "place_orders",
    "place_task",
    "receive",
    "receive_task",
    "record_delivery",
    "record_delivery_task",
    "register",
    "register_task",
    "status_counts",
    "watch_deliveries",
    "watch_task",
]
