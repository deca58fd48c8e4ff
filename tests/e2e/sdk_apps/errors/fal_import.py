import fal


class FalApp(fal.App):
    pass
