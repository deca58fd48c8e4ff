"""{{name}}: a berth SDK app, made by `berth init --template python`.

    berth run app.py::{{class}}
    curl -X POST -H 'Content-Type: application/json' -d '{"name": "berth"}' http://127.0.0.1:PORT/

The image needs only a python3: berth mounts its SDK and this directory into
the container, so nothing has to be installed from PyPI for berth itself (no
pydantic, protobuf or boto3 pins, no curl). This file's top level also runs on
your machine when berth reads the class's settings, so import what only the
image has (models, large libraries) inside setup() and the endpoints.
"""

from pathlib import Path

import berth
from berth.container import ContainerImage
from berth.models import BaseModel, Field

HERE = Path(__file__).resolve().parent


class Input(BaseModel):
    name: str = Field("world", description="Who to greet.", examples=["berth"])


class Output(BaseModel):
    greeting: str


class {{class}}(berth.App):
    app_name = "{{name}}"
    image = ContainerImage.from_dockerfile(str(HERE / "Dockerfile"))
    keep_alive = 300
    max_concurrency = 1

    def setup(self):
        # Once per runner, before the first request: load models here.
        self.greeting = "hello"

    @berth.endpoint("/")
    def greet(self, input: Input) -> Output:
        return Output(greeting=f"{self.greeting}, {input.name}")
