"""Every App setting set, for the spec checks: as class attributes and as
class keywords (keep_alive, max_concurrency, name)."""

import os

import berth
from berth.container import ContainerImage

HERE = os.path.dirname(os.path.abspath(__file__))

print("top-level code runs, and its prints stay off the JSON")


class SettingsApp(berth.App, keep_alive=300, max_concurrency=2, name="custom-name"):
    image = ContainerImage.from_dockerfile_str(
        "FROM python:3.11-slim\nARG VERSION\nRUN --mount=type=secret,id=aws-key true\n",
        registries={"registry.example.com": {"username": "robot", "password": "$REGISTRY_TOKEN"}},
        secrets={"aws-key": "$AWS_KEY"},
        build_args={"VERSION": "1.2"},
        context_dir=os.path.join(HERE, "context"),
    )
    machine_type = ["GPU-H100", "GPU"]
    num_gpus = 2
    memory = "2Gi"
    cpus = 1.5
    app_auth = "public"
    min_concurrency = 1
    concurrency_buffer = 1
    max_multiplexing = 4
    scaling_delay = 2.5
    request_timeout = 30
    startup_timeout = 900
    termination_grace_period_seconds = 7
    secrets = ["HF_TOKEN", "OTHER"]
    data_mounts = ["/data/.cache"]
    requirements = ["numpy"]  # a fal setting berth ignores (with a note)

    def setup(self):
        raise RuntimeError("berth.spec must not call setup()")

    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body

    @berth.endpoint("/events")
    async def events(self, body: dict):
        yield body

    @berth.endpoint("/alive", health_check=berth.HealthCheck(
        start_period_seconds=20, timeout_seconds=3, failure_threshold=2, interval_seconds=10))
    def alive(self) -> dict:
        return {"ok": True}
