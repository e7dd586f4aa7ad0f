"""Closed-loop Locust users for `bench/generator_ceiling.py`: GET / as fast as each user can."""

from __future__ import annotations

from locust import constant
from locust.contrib.fasthttp import FastHttpUser
from locust.user.task import task


class Hammer(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/")
