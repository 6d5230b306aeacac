"""Fixtures for the Label Studio integration tests (a real server).

Server: ``LABEL_STUDIO_URL`` + ``LABEL_STUDIO_TEST_TOKEN`` when set (CI starts one with
``.ci/labelstudio.sh``); else one started here, once per session, from
``$LABEL_STUDIO_BIN`` or ``/work/lsvenv/bin/label-studio``; else the tests skip —
except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import random
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from datacentric.data.importers import import_path
from datacentric.project import Project

_spec = importlib.util.spec_from_file_location(
    "labelstudio_server", Path(__file__).resolve().parents[2] / "scripts" / "labelstudio_server.py"
)
labelstudio_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(labelstudio_server)

CLASSES = ["ok", "pit", "scratch"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"Label Studio integration tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class Server:
    url: str
    token: str
    local: object | None = None  # LocalServer when this session started the process


@pytest.fixture(scope="session")
def ls_server(tmp_path_factory):
    url, token = os.environ.get("LABEL_STUDIO_URL"), os.environ.get("LABEL_STUDIO_TEST_TOKEN")
    if url and token:
        server = Server(url.rstrip("/"), token)
        probe = labelstudio_server.LocalServer("-", Path("."), token=token)
        probe.url = server.url
        if not probe.ready():
            _unavailable(f"LABEL_STUDIO_URL={url} does not answer with LABEL_STUDIO_TEST_TOKEN")
        yield server
        return
    binary = labelstudio_server.find_binary()
    if binary is None:
        _unavailable("no Label Studio server: set LABEL_STUDIO_URL/LABEL_STUDIO_TEST_TOKEN or LABEL_STUDIO_BIN")
    local = labelstudio_server.LocalServer(binary, tmp_path_factory.mktemp("labelstudio"), docroot="/")
    try:
        local.start()
    except RuntimeError as exc:
        _unavailable(str(exc))
    try:
        yield Server(local.url, local.token, local)
    finally:
        local.stop()


@pytest.fixture(scope="session")
def sdk(ls_server):
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=ls_server.url, api_key=ls_server.token, timeout=20)


@pytest.fixture(scope="session")
def users(sdk):
    """Two reviewers (Label Studio users) with unique emails: {'alice': user, 'bob': user}."""
    tag = uuid.uuid4().hex[:6]
    return {
        name: sdk.users.create(username=f"{name}-{tag}", email=f"{name}-{tag}@datacentric.test", first_name=name)
        for name in ("alice", "bob")
    }


@pytest.fixture
def title():
    """A Label Studio project title no other test uses."""
    return f"test {uuid.uuid4().hex[:10]}"


@pytest.fixture
def small_project(tmp_path):
    """9 tiny images (3 per class) labelled by 'mira'."""
    rng = random.Random(len(str(tmp_path)))
    photos = tmp_path / "photos"
    for label in CLASSES:
        (photos / label).mkdir(parents=True)
        for i in range(3):
            color = tuple(rng.randrange(256) for _ in range(3))
            Image.new("RGB", (32, 32), color).save(photos / label / f"{label}_{i}.png")
    proj = Project.init(tmp_path / "parts", classes=CLASSES)
    import_path(proj, photos, annotator="mira")
    yield proj
    proj.close()


class Proxy:
    """A TCP forwarder in front of the server; stop() makes the server vanish for the client
    (new connections refused, open ones cut), start() brings it back on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = labelstudio_server.free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Outage:
    """Stops and restarts the server as the client sees it: a proxy, or the real process."""

    def __init__(self, kind: str, server: Server) -> None:
        self.kind = kind
        self.token = server.token
        self._server = server
        self._proxy = None
        if kind == "proxy":
            self._proxy = Proxy(int(server.url.rsplit(":", 1)[1]))
            self._proxy.start()
            self.url = self._proxy.url
        else:
            self.url = server.url

    def cut(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
        else:
            self._server.local.stop()

    def restore(self) -> None:
        if self._proxy is not None:
            self._proxy.start()
        else:
            self._server.local.start(timeout=120)

    def close(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()


def pytest_generate_tests(metafunc):
    # The real process is stopped and restarted only when this session started it.
    if "outage" in metafunc.fixturenames:
        external = bool(os.environ.get("LABEL_STUDIO_URL") and os.environ.get("LABEL_STUDIO_TEST_TOKEN"))
        metafunc.parametrize("outage", ["proxy"] if external else ["proxy", "process"], indirect=True)


@pytest.fixture
def outage(request, ls_server):
    handle = Outage(request.param, ls_server)
    yield handle
    handle.close()
    if ls_server.local is not None and not ls_server.local.ready():
        ls_server.local.start(timeout=120)
