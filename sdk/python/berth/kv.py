"""The KV store of a berth server, from inside an app (fal's KVStore).

    from berth.kv import KVStore
    kv = KVStore("my-namespace")
    kv.set("key", "value", ttl=60)
    kv.get("key")        # "value", or None when missing or expired
    kv.delete("key")

The server is $BERTH_SERVER_URL (berth serve sets it for its runners); when
the server has API keys, give the app one as the secret BERTH_KEY. Values
are str (UTF-8) or bytes; get() returns str when the bytes are UTF-8, else
bytes. Errors other than "missing" raise KVError.
"""
import os
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["KVStore", "KVError"]


class KVError(Exception):
    """The KV store could not be reached or refused the request."""


class KVStore:
    def __init__(self, namespace, server=None, key=None, timeout=10.0):
        self.namespace = namespace
        self.server = (server or os.environ.get("BERTH_SERVER_URL") or "").rstrip("/")
        self.key = key if key is not None else os.environ.get("BERTH_KEY")
        self.timeout = timeout
        if not self.server:
            raise KVError("no berth server: set BERTH_SERVER_URL (berth serve sets it for "
                          "the apps it runs)")

    def _url(self, key, query=None):
        url = "%s/v1/kv/%s/%s" % (self.server, urllib.parse.quote(self.namespace, safe=""),
                                  urllib.parse.quote(key, safe=""))
        return url + ("?" + urllib.parse.urlencode(query) if query else "")

    def _call(self, method, url, data=None):
        req = urllib.request.Request(url, data=data, method=method)
        if self.key:
            req.add_header("Authorization", "Key " + self.key)
        if data is not None:
            req.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError as e:
            raise KVError("KV store at %s: %s" % (self.server, getattr(e, "reason", e)))

    def get(self, key):
        status, body = self._call("GET", self._url(key))
        if status == 404:
            return None
        if status != 200:
            raise KVError("get %r: HTTP %d %s" % (key, status, body[:200]))
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body

    def set(self, key, value, ttl=None):
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        query = {"ttl": str(int(ttl))} if ttl is not None else None
        status, body = self._call("PUT", self._url(key, query), data)
        if status not in (200, 201, 204):
            raise KVError("set %r: HTTP %d %s" % (key, status, body[:200]))

    def delete(self, key):
        status, body = self._call("DELETE", self._url(key))
        if status not in (200, 204, 404):
            raise KVError("delete %r: HTTP %d %s" % (key, status, body[:200]))
