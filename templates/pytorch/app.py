"""{{name}}: a PyTorch app on berth, made by `berth init --template pytorch`.

    berth run app.py::{{class}}
    curl -X POST -H 'Content-Type: application/json' -d '{"size": 512}' http://127.0.0.1:PORT/

torch lives only in the image, so it is imported in setup(): this file's top
level also runs on your machine when berth reads the class's settings. berth
mounts its SDK into the container; the image needs no pydantic, protobuf or
boto3 pins.
"""

from pathlib import Path

import berth
from berth.container import ContainerImage
from berth.models import BaseModel, Field

HERE = Path(__file__).resolve().parent


class Input(BaseModel):
    size: int = Field(256, ge=1, le=8192, description="The side of the square matrix.")


class Output(BaseModel):
    device: str
    trace: float


class {{class}}(berth.App):
    app_name = "{{name}}"
    image = ContainerImage.from_dockerfile(str(HERE / "Dockerfile"))
    machine_type = "GPU"
    num_gpus = 1
    keep_alive = 300
    # Model weights downloaded in setup() land in /data (kept between runs).
    startup_timeout = 1800

    def setup(self):
        import torch

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # Load your model here, e.g. with diffusers or transformers:
        #   self.pipe = DiffusionPipeline.from_pretrained(...).to(self.device)

    @berth.endpoint("/")
    def multiply(self, input: Input) -> Output:
        x = self.torch.randn(input.size, input.size, device=self.device)
        return Output(device=self.device, trace=float((x @ x.T).trace()))
