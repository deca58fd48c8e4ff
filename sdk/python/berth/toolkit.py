"""File and Image results, and optimize(), as in fal.toolkit.

An endpoint that returns a File (or a model holding one) answers with
{"url", "content_type", "file_name", "file_size"}, like fal's File. The url
is berth's file store when the runner can reach it ($BERTH_SERVER_URL, with
$BERTH_KEY as the key): the bytes are uploaded with
`POST $BERTH_SERVER_URL/v1/files?name=<file_name>`. Without a server, or when
the upload fails, the url is a `data:` URL holding the bytes (one line on
stderr says why).
"""

import base64
import io
import json
import mimetypes
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Optional

from berth.models import BaseModel, Field

__all__ = ["File", "Image", "optimize"]

# How long one upload to the file store may take.
UPLOAD_TIMEOUT_SECONDS = 60
# The most bytes of a file-store answer that are read.
UPLOAD_ANSWER_MAX = 64 * 1024

_said_no_server = False


def _log(message):
    sys.stderr.write("berth.toolkit: %s\n" % message)
    sys.stderr.flush()


def _data_url(data, content_type):
    return "data:%s;base64,%s" % (content_type, base64.b64encode(data).decode("ascii"))


def _upload(server, data, content_type, file_name):
    """POST the bytes to berth's file store; its answer's url."""
    url = "%s/v1/files?name=%s" % (server.rstrip("/"), urllib.parse.quote(file_name, safe=""))
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", content_type)
    key = os.environ.get("BERTH_KEY")
    if key:
        request.add_header("Authorization", "Key " + key)
    # The file store is berth's own server: never go through an HTTP proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=UPLOAD_TIMEOUT_SECONDS) as answer:
        body = answer.read(UPLOAD_ANSWER_MAX + 1)
    if len(body) > UPLOAD_ANSWER_MAX:
        raise ValueError("the answer is larger than %d bytes" % UPLOAD_ANSWER_MAX)
    try:
        stored = json.loads(body.decode("utf-8"))
    except ValueError:
        raise ValueError("the answer is not JSON")
    if not isinstance(stored, dict) or not isinstance(stored.get("url"), str) or not stored["url"]:
        raise ValueError("the answer has no url")
    return urllib.parse.urljoin(server.rstrip("/") + "/", stored["url"])


def _store(data, content_type, file_name):
    """Where the bytes can be fetched: the file store's URL, else a data URL."""
    global _said_no_server
    server = os.environ.get("BERTH_SERVER_URL")
    if not server:
        if not _said_no_server:
            _log("BERTH_SERVER_URL is not set: files are returned as data URLs")
            _said_no_server = True
        return _data_url(data, content_type)
    try:
        return _upload(server, data, content_type, file_name)
    except urllib.error.HTTPError as e:
        reason = "HTTP %d %s" % (e.code, e.reason)
    except (OSError, ValueError) as e:  # URLError is an OSError
        reason = getattr(e, "reason", None) or e
    _log("upload of '%s' to %s failed (%s): returning a data URL" % (file_name, server, reason))
    return _data_url(data, content_type)


def _default_name(content_type):
    ext = mimetypes.guess_extension(content_type or "") or ""
    return uuid.uuid4().hex + ext


class File(BaseModel):
    """A file an endpoint returns: {"url", "content_type", "file_name", "file_size"}."""

    url: str = Field(description="The URL where the file can be downloaded from.")
    content_type: Optional[str] = Field(None, description="The mime type of the file.",
                                        examples=["image/png"])
    file_name: Optional[str] = Field(None, description="The name of the file.",
                                     examples=["z9RV14K95DvU.png"])
    file_size: Optional[int] = Field(None, description="The size of the file in bytes.",
                                     examples=[4404019])

    @classmethod
    def from_bytes(cls, data, content_type=None, file_name=None, repository=None, **kwargs):
        """Store `data` and describe it. `repository` and fal's other storage
        options are accepted and ignored: berth has one file store."""
        data = bytes(data)
        if content_type is None:
            guessed = mimetypes.guess_type(file_name)[0] if file_name else None
            content_type = guessed or "application/octet-stream"
        if file_name is None:
            file_name = _default_name(content_type)
        url = _store(data, content_type, file_name)
        return cls(url=url, content_type=content_type, file_name=file_name,
                   file_size=len(data), **kwargs)

    @classmethod
    def from_path(cls, path, content_type=None, repository=None, **kwargs):
        """Store the file at `path` (its name is kept)."""
        path = os.fspath(path)
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_bytes(data, content_type=content_type,
                              file_name=os.path.basename(path), **kwargs)

    def as_bytes(self):
        """The file's bytes (decoded from a data URL, else downloaded)."""
        if self.url.startswith("data:"):
            header, _, payload = self.url.partition(",")
            if header.endswith(";base64"):
                return base64.b64decode(payload)
            return urllib.parse.unquote_to_bytes(payload)
        with urllib.request.urlopen(self.url, timeout=UPLOAD_TIMEOUT_SECONDS) as answer:
            return answer.read()


class Image(File):
    """An image an endpoint returns: a File with width and height when known."""

    width: Optional[int] = Field(None, description="The width of the image in pixels.",
                                 examples=[1024])
    height: Optional[int] = Field(None, description="The height of the image in pixels.",
                                  examples=[1024])

    @classmethod
    def from_bytes(cls, data, format="png", size=None, file_name=None, repository=None,
                   **kwargs):
        """An image from encoded bytes; `format` is its type ("png", "jpeg",
        ...) and `size` its (width, height) when known."""
        format = format.lower()
        content_type = "image/" + ("jpeg" if format == "jpg" else format)
        if file_name is None:
            file_name = "%s.%s" % (uuid.uuid4().hex, format)
        if size is not None:
            kwargs.setdefault("width", size[0])
            kwargs.setdefault("height", size[1])
        return super().from_bytes(data, content_type=content_type, file_name=file_name,
                                  **kwargs)

    @classmethod
    def from_pil(cls, pil_image, format="png", file_name=None, repository=None, **kwargs):
        """An image from a PIL.Image (only images that have Pillow call this)."""
        format = (format or "png").lower()
        buf = io.BytesIO()
        pil_image.save(buf, format="JPEG" if format == "jpg" else format.upper())
        return cls.from_bytes(buf.getvalue(), format=format, size=pil_image.size,
                              file_name=file_name, **kwargs)


def optimize(module, *args, **kwargs):
    """fal's optimize() applies fal's proprietary compiler to a torch module.
    berth has none: the module is returned unchanged, so fal code runs as is."""
    return module
