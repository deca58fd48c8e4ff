# The example app of fal's "Use a Custom Container Image" page
# (../shared/seed/use-custom-container-image.md, line 155), as it is there
# except for its imports, which name berth instead of fal and pydantic.
import berth as fal
from berth.container import ContainerImage
from berth.toolkit import Image, optimize

from berth.models import BaseModel, Field

dockerfile_str = """
FROM python:3.11

RUN apt-get update && apt-get install -y ffmpeg

RUN python -m venv .venv
ENV PATH="$PWD/.venv/bin:$PATH"
RUN pip install "accelerate" "transformers>=4.30.2" "diffusers>=0.26" "torch>=2.2.0"
"""

class Input(BaseModel):
    prompt: str = Field(
        description="The prompt to generate an image from.",
        examples=[\
            "A cinematic shot of a baby racoon wearing an intricate italian priest robe.",\
        ],
    )

class Output(BaseModel):
    image: Image = Field(
        description="The generated image.",
    )

class FalModel(fal.App):
    image = ContainerImage.from_dockerfile_str(dockerfile_str)
    machine_type = "GPU"

    def setup(self) -> None:
        import torch
        from diffusers import AutoPipelineForText2Image

        # Load SDXL
        self.pipeline = AutoPipelineForText2Image.from_pretrained(
            "stabilityai/stable-diffusion-xl-base-1.0",
            torch_dtype=torch.float16,
            variant="fp16",
        )
        self.pipeline.to("cuda")

        # Apply fal's spatial optimizer to the pipeline.
        self.pipeline.unet = optimize(self.pipeline.unet)
        self.pipeline.vae = optimize(self.pipeline.vae)

        # Warm up the model.
        self.pipeline(
            prompt="a cat",
            num_inference_steps=30,
        )

    @fal.endpoint("/")
    def text_to_image(self, input: Input) -> Output:
        result = self.pipeline(
            prompt=input.prompt,
            num_inference_steps=30,
        )
        [image] = result.images
        return Output(image=Image.from_pil(image))
