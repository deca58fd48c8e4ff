import berth


class BadAttribute(berth.App):
    keep_alive = "a long time"

    @berth.endpoint("/")
    def run(self, body: dict) -> dict:
        return body
