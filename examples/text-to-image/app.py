"""text-to-image: a berth SDK app that draws a PNG from a prompt.

    berth run examples/text-to-image/app.py::TextToImage --port 8080
    curl -X POST -H 'Content-Type: application/json' \\
         -d '{"prompt": "a red fox under a gold moon", "seed": 7}' http://127.0.0.1:8080/

answers {"image": {"url", "content_type", "file_name", "file_size", "width",
"height"}, "seed": 7}. Deployed on a server (`berth serve`, `berth deploy`),
the url is the server's file store; under `berth run` (no server) it is a
data: URL holding the PNG. `make demo` deploys it and calls it both ways.

The picture is drawn with Pillow (Debian's python3-pil, installed by the
Dockerfile) from the prompt and the seed alone: the same input always gives
the same PNG (see render.py). No model and nothing from PyPI: the image has
python3 and Pillow, and berth mounts its SDK and this directory.

This file's top level also runs on the host when berth reads the app's
settings, where Pillow may be missing: render.py (which imports PIL) is
imported in setup(), inside the container.
"""

from pathlib import Path
from typing import Optional

import berth
from berth.container import ContainerImage
from berth.models import BaseModel, Field
from berth.toolkit import Image

HERE = Path(__file__).resolve().parent


class Input(BaseModel):
    prompt: str = Field(description="What to draw: colours it names are used, each word "
                        "becomes a shape, and the text is written on the picture.",
                        examples=["a red fox under a gold moon"], min_length=1, max_length=2000)
    width: int = Field(512, description="Width in pixels.", ge=64, le=2048)
    height: int = Field(512, description="Height in pixels.", ge=64, le=2048)
    seed: int = Field(0, description="Another seed, another picture of the same prompt.",
                      ge=0, le=2**32 - 1)


class Output(BaseModel):
    image: Image = Field(description="The PNG.")
    seed: int = Field(description="The seed it was drawn with.")


class Progress(BaseModel):
    stage: str
    done: int
    total: int
    image: Optional[Image] = None


class TextToImage(berth.App):
    app_name = "text-to-image"
    image = ContainerImage.from_dockerfile(str(HERE / "Dockerfile"))
    keep_alive = 60
    max_concurrency = 2
    max_multiplexing = 4
    request_timeout = 60
    startup_timeout = 60

    def setup(self):
        # Only the image has Pillow: import it here, not at the top.
        import render

        self.render = render
        # Warm up: the first picture loads Pillow's PNG encoder and the font.
        render.render("warm up", 64, 64, 0)

    def _name(self, input):
        return "text-to-image-%dx%d-seed%d.png" % (input.width, input.height, input.seed)

    @berth.endpoint("/")
    def generate(self, input: Input) -> Output:
        """Draw the prompt as a PNG; answers its file URL."""
        pil = self.render.render(input.prompt, input.width, input.height, input.seed)
        return Output(image=Image.from_pil(pil, file_name=self._name(input)), seed=input.seed)

    @berth.endpoint("/stream")
    def stream(self, input: Input):
        """The same picture, with one Server-Sent Event per stage drawn; the
        last event holds the image."""
        for stage, done, total, pil in self.render.render_steps(input.prompt, input.width,
                                                                input.height, input.seed):
            image = Image.from_pil(pil, file_name=self._name(input)) if done == total else None
            yield Progress(stage=stage, done=done, total=total, image=image)
