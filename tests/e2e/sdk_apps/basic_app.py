"""The app tests/e2e/sdk_python.sh serves: one endpoint per behaviour.

$APP_STATE is a directory where setup() and teardown() count their calls.
Ordering is driven by files in it, never by timings: with $SETUP_GATE set,
setup() waits for the file "setup-gate"; /gate and /stream-gated wait for
"gate" and "stream-gate"; /barrier answers only when 3 requests are in it
at once."""

import asyncio
import dataclasses
import os
import threading
import time
from typing import List, Optional

import berth
from berth.container import ContainerImage
from berth.models import BaseModel, Field
from berth.toolkit import File, Image

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


# How long a gate waits for its file before it fails the request.
GATE_SECONDS = 30


def state(name):
    return os.path.join(os.environ["APP_STATE"], name)


def wait_for_file(name):
    deadline = time.monotonic() + GATE_SECONDS
    while not os.path.exists(state(name)):
        if time.monotonic() > deadline:
            raise RuntimeError("no %s after %d s" % (name, GATE_SECONDS))
        time.sleep(0.01)


def bump(name):
    """Add one to the counter file $APP_STATE/name; the new count."""
    path = state(name)
    count = int(open(path).read()) + 1 if os.path.exists(path) else 1
    with open(path, "w") as f:
        f.write(str(count))
    return count


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


@dataclasses.dataclass
class Sum:
    total: int
    point: Point


class Options(BaseModel):
    seed: int = 0


class Prompt(BaseModel):
    """What to generate."""

    prompt: str = Field(description="The prompt to generate from.", examples=["a red fox"])
    steps: int = Field(10, ge=1, le=50, description="Inference steps.")
    tags: List[str] = []
    options: Optional[Options] = None


class Result(BaseModel):
    text: str = Field(description="What was generated.")
    steps: int
    seed: int


class ImageResult(BaseModel):
    image: Image = Field(description="The generated image.")


class BasicApp(berth.App):
    image = ContainerImage.from_dockerfile_str("FROM python:3.11-slim\n")
    machine_type = "GPU"

    def setup(self):
        self.setup_calls = bump("setup")
        self.barrier = threading.Barrier(3, timeout=GATE_SECONDS)
        if os.environ.get("SETUP_GATE"):
            wait_for_file("setup-gate")
        print("setup done", flush=True)

    def teardown(self):
        bump("teardown")

    @berth.endpoint("/")
    def echo(self, body: dict) -> dict:
        return {"echo": body}

    @berth.endpoint("/setup-calls")
    def setup_calls_seen(self) -> dict:
        return {"setup_calls": self.setup_calls,
                "in_file": int(open(state("setup")).read())}

    @berth.endpoint("/dataclass")
    def add(self, point: Point) -> Sum:
        return Sum(total=point.x + point.y, point=point)

    @berth.endpoint("/model")
    def generate(self, prompt: Prompt) -> Result:
        """Generate text from a prompt."""
        seed = prompt.options.seed if prompt.options else -1
        return Result(text=prompt.prompt.upper(), steps=prompt.steps, seed=seed)

    @berth.endpoint("/list")
    def as_list(self, body: dict) -> list:
        return [1, "two", None]

    @berth.endpoint("/string")
    def as_string(self, body: dict) -> str:
        return "plain"

    @berth.endpoint("/number")
    def as_number(self) -> float:
        return 2.5

    @berth.endpoint("/nothing")
    def as_none(self) -> None:
        return None

    @berth.endpoint("/app-error")
    def app_error(self, body: dict) -> dict:
        raise berth.AppException("the teapot is busy", status_code=418)

    @berth.endpoint("/field-error")
    def field_error(self, body: dict) -> dict:
        raise berth.FieldException("prompt", "prompt is not allowed")

    @berth.endpoint("/crash")
    def crash(self, body: dict) -> dict:
        raise RuntimeError("crash-marker-%s" % body.get("marker", ""))

    @berth.endpoint("/async")
    async def async_echo(self, body: dict) -> dict:
        await asyncio.sleep(0.01)
        return {"async": True, "request_id": self.current_request.request_id}

    @berth.endpoint("/slow")
    def slow(self, body: dict) -> dict:
        time.sleep(float(body.get("seconds", 1)))
        return {"slept": body.get("seconds", 1)}

    @berth.endpoint("/gate")
    def gate(self, body: dict) -> dict:
        open(state("gate-entered"), "w").close()
        wait_for_file("gate")
        return {"gated": True}

    @berth.endpoint("/barrier")
    def barrier_wait(self, body: dict) -> dict:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            raise berth.AppException("the 3 requests were not served at once", 504)
        return {"met": True}

    @berth.endpoint("/request")
    def request_info(self, body: dict) -> dict:
        r = self.current_request
        return {"request_id": r.request_id, "endpoint": r.endpoint,
                "header": r.headers.get("x-custom")}

    @berth.endpoint("/stream")
    def stream(self, body: dict):
        for i in range(int(body.get("n", 3))):
            if i:
                time.sleep(float(body.get("delay", 0)))
            yield {"i": i, "at": time.time()}

    @berth.endpoint("/stream-gated")
    def stream_gated(self, body: dict):
        yield {"i": 0}
        wait_for_file("stream-gate")
        yield {"i": 1}

    @berth.endpoint("/astream")
    async def astream(self, body: dict):
        for i in range(int(body.get("n", 3))):
            await asyncio.sleep(0.01)
            yield {"i": i, "endpoint": self.current_request.endpoint}

    @berth.endpoint("/stream-fails")
    def stream_fails(self, body: dict):
        yield {"i": 0}
        raise RuntimeError("stream-crash-marker")

    @berth.endpoint("/stream-app-error")
    def stream_app_error(self, body: dict):
        raise berth.AppException("no stream for you", status_code=409)
        yield  # a generator all the same

    @berth.endpoint("/file")
    def file(self, body: dict) -> File:
        return File.from_bytes(body.get("text", "hello").encode(), content_type="text/plain",
                               file_name="hello.txt")

    @berth.endpoint("/image")
    def image_result(self, body: dict) -> ImageResult:
        return ImageResult(image=Image.from_bytes(PNG, format="png"))

    @berth.endpoint("/ping", health_check=berth.HealthCheck(start_period_seconds=5))
    def ping(self) -> dict:
        return {"pong": True}
