"""The RQ worker class of this project: `rq worker -w server.worker.Worker <queues>`.

It builds the Flask app once, in the worker process, before any job runs; RQ's work horse is forked from
that process for each job and inherits it, so a job costs its own work, not an app factory (about 2 s of
CPU each). Nothing touches the database before the fork, so no pooled connection is shared with a child.
"""
from __future__ import annotations

from flask import Flask
from rq import Worker as RqWorker

from app import jobs
from server import create_app


class Worker(RqWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        jobs.use_app(self.build_app())

    def build_app(self) -> Flask:
        """The app every job of this worker runs in (the configured mode: APP_MODE and the environment)."""
        return create_app()
