"""async setup(), teardown() and health(); a neighbour import; File.from_path.

$APP_STATE is where setup and teardown leave their marks."""

import asyncio
import os

from sdk_neighbour import GREETING

import berth
from berth.toolkit import File

HERE = os.path.dirname(os.path.abspath(__file__))


class AsyncApp(berth.App):
    async def setup(self):
        await asyncio.sleep(0.01)
        self.loop_id = id(asyncio.get_running_loop())
        open(os.path.join(os.environ["APP_STATE"], "async-setup"), "w").close()

    async def teardown(self):
        await asyncio.sleep(0.01)
        with open(os.path.join(os.environ["APP_STATE"], "async-teardown"), "a") as f:
            f.write("x")

    async def health(self):
        return {"custom": True, "greeting": GREETING}

    @berth.endpoint("/same-loop")
    async def same_loop(self) -> dict:
        return {"same": id(asyncio.get_running_loop()) == self.loop_id}

    @berth.endpoint("/from-path")
    def from_path(self) -> File:
        return File.from_path(os.path.join(HERE, "context", "Dockerfile"), content_type="text/plain")
