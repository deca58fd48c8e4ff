"""Images from a Dockerfile on disk (with the health tuning of the built-in
/health) and from a pre-built reference."""

import os

import berth
from berth.container import ContainerImage

HERE = os.path.dirname(os.path.abspath(__file__))


class FromFile(berth.App):
    image = ContainerImage.from_dockerfile(os.path.join(HERE, "context", "Dockerfile"),
                                           dockerignore=["*.tmp"])
    health_check = berth.HealthCheck(start_period_seconds=60)

    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body


class FromRef(berth.App):
    image = ContainerImage.from_ref(
        "registry.example.com/team/app:1.2",
        registries={"registry.example.com": {"username": "robot", "password": "$TOKEN"}})

    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
