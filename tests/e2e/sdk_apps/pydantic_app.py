"""An app whose models are real pydantic models (v2, and v1 through
pydantic.v1), one of them holding a berth toolkit Image. Needs pydantic."""

from typing import List

from pydantic import BaseModel, Field

try:
    import pydantic.v1 as pydantic_v1  # pydantic 2 (and 1.10.17+)
except ImportError:
    import pydantic as pydantic_v1  # an older pydantic 1

import berth
from berth.toolkit import Image

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


class Input(BaseModel):
    prompt: str = Field(description="The prompt.", examples=["a cat"])
    steps: int = Field(10, ge=1)
    tags: List[str] = []


class Output(BaseModel):
    text: str
    image: Image = Field(description="The generated image.")


class OldInput(pydantic_v1.BaseModel):
    name: str
    count: int = 1


class PydanticApp(berth.App):
    @berth.endpoint("/")
    def run(self, input: Input) -> Output:
        return Output(text="%s/%d/%s" % (input.prompt, input.steps, ",".join(input.tags)),
                      image=Image.from_bytes(PNG, format="png"))

    @berth.endpoint("/v1")
    def old(self, input: OldInput) -> dict:
        return {"name": input.name, "count": input.count, "model": type(input).__name__}
