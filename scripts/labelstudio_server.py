#!/usr/bin/env python
"""Start a local Label Studio server for development and the integration tests.

Same settings as ``.ci/labelstudio.sh``: 127.0.0.1 on a free port, a known admin
token, local-file serving under a document root, no outbound traffic, XDG folders
in the data folder. Usage::

    python scripts/labelstudio_server.py [--bin PATH] [--data-dir DIR] [--docroot /]

prints ``export LABEL_STUDIO_URL=... LABEL_STUDIO_TEST_TOKEN=...`` and serves until
Ctrl-C. Never run ``label-studio --version`` (it starts a server on 0.0.0.0:8080).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_BIN = "/work/lsvenv/bin/label-studio"


def find_binary() -> str | None:
    """The label-studio executable: $LABEL_STUDIO_BIN, the shared dev venv, or PATH."""
    for candidate in (os.environ.get("LABEL_STUDIO_BIN"), DEFAULT_BIN, shutil.which("label-studio")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """A label-studio process we own: start, wait until ready, stop (SIGTERM), restart."""

    def __init__(
        self, binary: str, data_dir: Path, docroot: str = "/", port: int | None = None, token: str | None = None
    ) -> None:
        self.binary = binary
        self.data_dir = Path(data_dir).resolve()
        self.docroot = docroot
        self.port = port or free_port()
        self.token = token or "dc-test-" + secrets.token_hex(12)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("USERNAME", "PASSWORD", "HOST", "PORT")}
        xdg = self.data_dir / "xdg"
        env.update(
            {
                "LABEL_STUDIO_USERNAME": "admin@datacentric.test",
                "LABEL_STUDIO_PASSWORD": "dc-admin-" + secrets.token_hex(6),
                "LABEL_STUDIO_USER_TOKEN": self.token,
                "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
                "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
                "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": self.docroot,
                "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
                "LABEL_STUDIO_PORT": str(self.port),
                "SENTRY_DSN": "",
                "FRONTEND_SENTRY_DSN": "",
                "COLLECT_ANALYTICS": "false",
                "LATEST_VERSION_CHECK": "false",
                "XDG_CONFIG_HOME": str(xdg / "config"),
                "XDG_DATA_HOME": str(xdg / "data"),
                "XDG_CACHE_HOME": str(xdg / "cache"),
            }
        )
        return env

    def start(self, timeout: float = 180.0) -> "LocalServer":
        """Start the process and wait until the token works (cold start ~40 s, restart ~5 s)."""
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"port {self.port} is busy; Label Studio would silently move to another")
        for sub in ("xdg/config", "xdg/data", "xdg/cache"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "label-studio.log", "ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "start",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir / "ls"),
                "--log-level",
                "WARNING",
            ],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Label Studio exited during start-up (code {self.proc.returncode}); "
                    f"see {self.data_dir / 'label-studio.log'}"
                )
            if self.ready():
                return self
            time.sleep(1.0)
        self.stop()
        raise RuntimeError(
            f"Label Studio not ready at {self.url} after {timeout:.0f} s; see {self.data_dir / 'label-studio.log'}"
        )

    def ready(self) -> bool:
        request = urllib.request.Request(
            f"{self.url}/api/current-user/whoami", headers={"Authorization": f"Token {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM our own process and wait for it (SIGKILL after 15 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self, timeout: float = 120.0) -> None:
        """Stop and start again on the same port and data folder (keeps projects and token)."""
        self.stop()
        self.start(timeout=timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=find_binary(), help="label-studio executable")
    parser.add_argument("--data-dir", default=".labelstudio", help="server data (kept between runs)")
    parser.add_argument("--docroot", default="/", help="local-files document root")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument(
        "--token",
        default=os.environ.get("LABEL_STUDIO_TEST_TOKEN"),
        help="admin token (default: $LABEL_STUDIO_TEST_TOKEN or random; fixed at first start)",
    )
    args = parser.parse_args()
    if not args.bin:
        sys.exit(
            "error: no label-studio found; set LABEL_STUDIO_BIN or `pip install label-studio==1.23.2` into its own venv"
        )
    token_file = Path(args.data_dir) / "token"  # the token only takes effect at the first start
    token = args.token or (token_file.read_text().strip() if token_file.is_file() else None)
    server = LocalServer(args.bin, Path(args.data_dir), args.docroot, args.port, token)
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    token_file.write_text(server.token)
    print(f"starting Label Studio ({args.bin}) ...", file=sys.stderr)
    server.start()
    print(f"export LABEL_STUDIO_URL={server.url} LABEL_STUDIO_TEST_TOKEN={server.token}")
    print("# ready; Ctrl-C stops it", file=sys.stderr)
    try:
        server.proc.wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
