"""An App that sets nothing: berth.spec prints only its name and endpoints."""

import berth


class MyGoodApp(berth.App):
    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
