import berth


class NoEndpoints(berth.App):
    def setup(self):
        pass
