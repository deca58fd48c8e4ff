"""Imports at the top a module that only the image has."""

import berth
import berth_test_module_only_in_the_image  # noqa: F401


class NeedsIt(berth.App):
    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
