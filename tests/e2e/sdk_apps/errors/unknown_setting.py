import berth


class UnknownSetting(berth.App, keep_alive_seconds=3):
    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
