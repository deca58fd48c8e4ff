"""{{name}}: an app on a CUDA runtime image, made by `berth init --template cuda`.

    berth run app.py::{{class}}
    curl -X POST -H 'Content-Type: application/json' -d '{}' http://127.0.0.1:PORT/

Only the image has torch and CUDA, so they are imported in setup(): this
file's top level also runs on your machine when berth reads the class's
settings. berth mounts its SDK into the container and the NVIDIA driver's
libraries when the app asks for GPUs.
"""

from pathlib import Path

import berth
from berth.container import ContainerImage
from berth.models import BaseModel

HERE = Path(__file__).resolve().parent


class Output(BaseModel):
    cuda: bool
    devices: list
    torch: str
    cuda_version: str


class {{class}}(berth.App):
    app_name = "{{name}}"
    image = ContainerImage.from_dockerfile(str(HERE / "Dockerfile"))
    machine_type = "GPU"
    num_gpus = 1
    keep_alive = 300
    startup_timeout = 1800

    def setup(self):
        import torch

        self.torch = torch

    @berth.endpoint("/")
    def info(self) -> Output:
        t = self.torch
        n = t.cuda.device_count() if t.cuda.is_available() else 0
        return Output(cuda=n > 0, devices=[t.cuda.get_device_name(i) for i in range(n)],
                      torch=t.__version__, cuda_version=str(t.version.cuda))
