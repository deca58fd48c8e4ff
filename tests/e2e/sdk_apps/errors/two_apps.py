"""Two App classes: berth.spec needs FILE::Class."""

import berth


class First(berth.App):
    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body


class Second(berth.App):
    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
