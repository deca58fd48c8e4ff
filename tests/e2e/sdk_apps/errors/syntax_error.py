import berth


class Broken(berth.App)
    pass
