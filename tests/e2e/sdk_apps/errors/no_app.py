"""No App class here."""


class NotAnApp:
    pass
