"""Calling the application's listeners: a coroutine listener is scheduled as a task; an
exception is logged on the `arqonbus` logger, never let into the SDK's own tasks."""
import asyncio
import inspect
import logging

log = logging.getLogger("arqonbus")


def call(cb, value):
    try:
        result = cb(value)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(_log_failed_task)
    except Exception:
        log.exception("arqonbus: listener %r failed", cb)


def _log_failed_task(task):
    if not task.cancelled() and task.exception() is not None:
        log.error("arqonbus: listener failed", exc_info=task.exception())
