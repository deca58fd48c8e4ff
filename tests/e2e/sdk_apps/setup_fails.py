"""setup() raises: the runner prints the traceback and exits 1."""

import berth


class SetupFails(berth.App):
    def setup(self):
        raise ValueError("setup-failure-marker")

    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
