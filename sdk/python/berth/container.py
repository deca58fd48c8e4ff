"""ContainerImage: the image an App runs in, as fal's fal.container.ContainerImage.

An image is a Dockerfile (its text, or a file) with a build context, build
arguments, build secrets and registry credentials, or a pre-built image
reference. berth builds it; this class only records what the app asked for.
Values such as "$DOCKERHUB_TOKEN" are kept verbatim: berth resolves them
against its secret store when it builds, so no secret enters the app file.
"""

import os

__all__ = ["ContainerImage"]


def _string_dict(what, value):
    """A dict of str -> str, or a ValueError naming the bad entry."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("%s must be a dict of strings, not %s" % (what, type(value).__name__))
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError("%s: %r: keys and values must be strings" % (what, k))
    return dict(value)


def _registries(value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("registries must be a dict of host -> {'username': ..., 'password': ...}")
    out = {}
    for host, cred in value.items():
        if not isinstance(cred, dict) or "username" not in cred or "password" not in cred:
            raise ValueError("registries: %r: each registry needs a 'username' and a 'password'"
                             % (host,))
        out[str(host)] = {"username": str(cred["username"]), "password": str(cred["password"])}
    return out


class ContainerImage:
    """The container image of an App.

    Make one with a classmethod:

        ContainerImage.from_dockerfile_str("FROM python:3.11\\nRUN pip install numpy")
        ContainerImage.from_dockerfile("Dockerfile", build_args={"VERSION": "1"})
        ContainerImage.from_ref("registry.example.com/team/app:1.2")

    Keyword arguments (all optional):
      registries   {host: {"username": ..., "password": "$SECRET"}} to pull FROM images
      secrets      {id: "$SECRET"} for `RUN --mount=type=secret,id=...`
      build_args   {NAME: value} for ARG instructions
      context_dir  the build context (default: the app file's directory)
      dockerignore a list of patterns (default: <context>/.dockerignore)
    Relative paths are relative to the current directory, as in fal.
    """

    def __init__(self, dockerfile_str="", build_args=None, registries=None, secrets=None,
                 context_dir=None, dockerignore=None, dockerignore_path=None, builder=None,
                 compression="gzip", force_compression=False):
        # builder, compression and force_compression are fal build details that
        # berth does not need; they are accepted so that fal code runs as is.
        if not isinstance(dockerfile_str, str) or not dockerfile_str.strip():
            raise ValueError("the Dockerfile is empty: make the image with "
                             "ContainerImage.from_dockerfile_str(text), "
                             "ContainerImage.from_dockerfile(path) or ContainerImage.from_ref(ref)")
        self.dockerfile_str = dockerfile_str
        self.dockerfile_path = None  # set by from_dockerfile
        self.ref = None              # set by from_ref
        self.build_args = _string_dict("build_args", build_args)
        self.registries = _registries(registries)
        self.secrets = _string_dict("secrets", secrets)
        self.context_dir = os.path.abspath(os.fspath(context_dir)) if context_dir else None
        self.dockerignore = None
        self.builder = builder
        self.compression = compression
        self.force_compression = force_compression
        if dockerignore is not None or dockerignore_path is not None:
            self.add_dockerignore(dockerignore, dockerignore_path)

    @classmethod
    def from_dockerfile_str(cls, text, **kwargs):
        """An image built from Dockerfile text."""
        return cls(text, **kwargs)

    @classmethod
    def from_dockerfile(cls, path, **kwargs):
        """An image built from a Dockerfile on disk (read now; its path is kept
        so that berth builds from the file)."""
        path = os.path.abspath(os.fspath(path))
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ValueError("cannot read the Dockerfile '%s': %s" % (path, e.strerror))
        image = cls(text, **kwargs)
        image.dockerfile_path = path
        return image

    @classmethod
    def from_ref(cls, ref, registries=None):
        """A pre-built image, pulled by reference ("registry/name:tag"); no build."""
        if not isinstance(ref, str) or not ref.strip() or any(c.isspace() for c in ref):
            raise ValueError("from_ref needs an image reference like 'registry/name:tag', not %r"
                             % (ref,))
        image = cls("FROM " + ref, registries=registries)
        image.ref = ref
        return image

    def add_dockerignore(self, patterns=None, path=None):
        """Ignore patterns for the build context: a list, or a .dockerignore
        file (exactly one of the two)."""
        if (patterns is None) == (path is None):
            raise ValueError("add_dockerignore takes patterns or a path, exactly one of them")
        if path is not None:
            try:
                with open(os.fspath(path), encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError as e:
                raise ValueError("cannot read the dockerignore file '%s': %s" % (path, e.strerror))
            patterns = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        if isinstance(patterns, str) or not all(isinstance(p, str) for p in patterns):
            raise ValueError("dockerignore must be a list of patterns (strings)")
        self.dockerignore = list(patterns)

    def to_spec(self):
        """The `image` section of berth.yaml for this image (what berth.spec
        prints): only what was given."""
        if self.ref is not None:
            out = {"ref": self.ref}
        elif self.dockerfile_path is not None:
            out = {"dockerfile_path": self.dockerfile_path}
        else:
            out = {"dockerfile": self.dockerfile_str}
        if self.ref is None:
            if self.context_dir is not None:
                out["context"] = self.context_dir
            if self.build_args:
                out["build_args"] = dict(self.build_args)
            if self.secrets:
                out["secrets"] = dict(self.secrets)
            if self.dockerignore is not None:
                out["dockerignore"] = list(self.dockerignore)
        if self.registries:
            out["registries"] = {h: dict(c) for h, c in self.registries.items()}
        return out

    def __repr__(self):
        if self.ref is not None:
            return "ContainerImage.from_ref(%r)" % self.ref
        if self.dockerfile_path is not None:
            return "ContainerImage.from_dockerfile(%r)" % self.dockerfile_path
        return "ContainerImage.from_dockerfile_str(%r)" % self.dockerfile_str[:40]
