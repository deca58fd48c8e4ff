# The trailing comma of fal's docs templates makes `image` a tuple.
import berth
from berth.container import ContainerImage


class TupleImage(berth.App):
    image=ContainerImage.from_dockerfile_str("FROM python:3.11"),

    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
