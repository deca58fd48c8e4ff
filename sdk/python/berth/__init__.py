"""berth's Python SDK: write an app the way you write a fal app.

    import berth
    from berth.container import ContainerImage

    class MyApp(berth.App):
        image = ContainerImage.from_dockerfile_str("FROM python:3.11-slim")

        @berth.endpoint("/")
        def run(self, body: dict) -> dict:
            return {"echo": body}

A fal app runs unchanged after replacing its imports (`import berth as fal`,
`from berth.container import ContainerImage`, `from berth.toolkit import
Image`, `from berth.models import BaseModel, Field`). Standard library only;
Python 3.8 or newer. docs/sdk.md is the reference.
"""

# Set before the imports below: berth.app reads it.
__version__ = "0.1.0"

from berth import models, toolkit  # noqa: E402
from berth.app import (App, AppException, FieldException, HealthCheck,  # noqa: E402
                       RequestContext, endpoint)
from berth.container import ContainerImage  # noqa: E402

__all__ = ["App", "endpoint", "AppException", "FieldException", "HealthCheck",
           "RequestContext", "ContainerImage", "models", "toolkit", "__version__"]
