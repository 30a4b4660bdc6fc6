"""Structured logs: one JSON object per line, each carrying the request id.

archive.middleware.RequestContextMiddleware puts the id of the request being
served into `REQUEST_ID` (a context variable, so threads and async tasks each
see their own); `RequestIdFilter` copies it onto every log record, including
those of Django and libraries, so one grep finds everything a request did.
"""

from __future__ import annotations

import contextvars
import logging

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs some responses after the middleware has
            # returned, but passes the request itself along.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or REQUEST_ID.get()
        return True


class JsonFormatter(_JsonFormatter):
    """`{"time", "level", "logger", "message", "request_id", …extra fields}`.

    Django attaches the HttpRequest itself to some records (`django.request`);
    it is dropped here, since its repr says nothing the other fields do not.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("request", None)
        log_data.pop("server_time", None)
