"""What members and moderators read about a job's state and failures (English)."""

from __future__ import annotations

STATE_LABELS = {
    "queued": "Waiting for a free slot",
    "submitted": "Sent to the image service",
    "running": "Generating",
    "succeeded": "Done",
    "failed": "Failed",
    "timed_out": "Timed out",
    "cancelled": "Cancelled",
}

# error_code (stored on the job) -> what the user is told. "{detail}" is optional.
FAILURE_TEXT = {
    "content_policy": "The image service refused this prompt under its content policy.",
    "insufficient_balance": (
        "The image service balance for this server is empty. Please tell a server admin."
    ),
    "auth": "The bot's image service key was rejected. Please tell a server admin.",
    "rate_limited": "The image service is busy right now. Please try again in a minute.",
    "unavailable": "The image service is unavailable right now. Please try again later.",
    "bad_request": "The image service rejected this request{detail}.",
    "task_failed": "The image service could not make this image{detail}.",
    "timeout": "The image service took too long, so the bot gave up waiting.",
    "interrupted": (
        "The bot restarted while this image was being made and could not collect it. "
        "Please try again."
    ),
    "expired": "The image was made, but its link expired before the bot could fetch it.",
    "malformed": "The image service sent an answer the bot could not read.",
    "not_delivered": "The image could not be posted.",
    "cancelled": "This request was cancelled before it was sent to the image service.",
}
REFUND_NOTE = "It did not count against your quota."
PERIOD_NOUNS = {"day": "today", "week": "this week", "month": "this month"}
RETENTION_REMOVED = "*(removed by log retention)*"
