"""A thin, fault-aware connection to a Label Studio server (SDK 2.x plus two raw calls).

Every network failure becomes one :class:`~datacentric.errors.DatacentricError`
naming the cause (unreachable, token refused, project deleted, server stopped),
and every request has a short timeout, so a sync never hangs.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from datacentric.errors import DatacentricError

__all__ = ["Connection", "connect", "instructions", "label_config", "rules_section"]

FROM_NAME = "label"  # the <Choices> control
TO_NAME = "image"  # the <Image> object; task data key holding the image URL
# Our part of the project's instructions runs from this heading to the list's end. Label Studio
# sanitises the instructions (HTML comments are dropped), so the markers are plain markup.
RULES_START = "<h3>Labelling rules (label book)</h3>"
RULES_END = "</ul>"


def label_config(classes: list[str]) -> str:
    """Labeling config for single-choice image classification over ``classes``."""
    if not classes:
        raise DatacentricError("the project has no classes yet; import labelled images or set --classes")
    choices = "".join(f'    <Choice value="{_xml(c)}"/>\n' for c in classes)
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="${TO_NAME}" zoom="true"/>\n'
        '  <Header value="Flag: $flag · given: $given · suggested: $suggested"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInLine="true">\n'
        f"{choices}"
        "  </Choices>\n"
        "</View>"
    )


def rules_section(rules: Iterable[tuple[str, str, str]]) -> str:
    """The label book's rules as an HTML block for the project's instructions ("" without rules).

    ``rules`` are ``(class_a, class_b, rule)``; they are listed by class pair.

    >>> rules_section([("pit", "scratch", "longer than 2 mm is a scratch")]).splitlines()[1]
    '<li><b>pit vs scratch</b>: longer than 2 mm is a scratch</li>'
    """
    items = sorted((a, b, text) for a, b, text in rules)
    if not items:
        return ""
    lines = [f"<li><b>{html.escape(a)} vs {html.escape(b)}</b>: {html.escape(text)}</li>" for a, b, text in items]
    return "\n".join([RULES_START + "<ul>", *lines, RULES_END])


def instructions(existing: str | None, section: str) -> str:
    """The project's instructions with our rules ``section`` put in place of the last push's.

    Whatever else the instructions say (written in Label Studio) is kept as it is.
    """
    text = existing or ""
    start = text.find(RULES_START)
    end = text.find(RULES_END, start) if start >= 0 else -1
    if start >= 0 and end > start:
        before, after = text[:start].rstrip("\n"), text[end + len(RULES_END) :].lstrip("\n")
    else:
        before, after = text.rstrip("\n"), ""
    return "\n".join(part for part in (before, section, after) if part)


def config_classes(config: str) -> list[str]:
    """The choice values in a labeling config (in order)."""
    return [_unxml(v) for v in re.findall(r'<Choice\s+value="([^"]*)"', config or "")]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _unxml(text: str) -> str:
    return text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class Connection:
    """An authenticated session with one Label Studio server."""

    def __init__(self, url: str, token: str, *, timeout: float = 20.0) -> None:
        from label_studio_sdk import LabelStudio

        self.url = normalize_url(url)
        self.timeout = timeout
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))
        self.sdk = LabelStudio(base_url=self.url, api_key=token, httpx_client=self._http)
        self.action = "sync"

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    @contextmanager
    def errors(self, doing: str | None = None) -> Iterator[None]:
        """Turn network and HTTP failures inside the block into one-line DatacentricErrors."""
        from label_studio_sdk.core.api_error import ApiError

        doing = doing or self.action
        try:
            with warnings.catch_warnings():
                # a server answering odd JSON makes pydantic warn on stderr; the error below says it
                warnings.filterwarnings("ignore", message="Pydantic serializer warnings")
                yield
        except DatacentricError:
            raise
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise DatacentricError(f"cannot reach Label Studio during {doing} ({_short(exc)})", self.url) from None
        except httpx.TimeoutException:
            raise DatacentricError(
                f"Label Studio did not answer within {self.timeout:.0f} s during {doing}", self.url
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError) as exc:
            raise DatacentricError(
                f"Label Studio stopped responding mid-{doing} ({_short(exc)}); what was finished "
                "before is kept and linked locally, nothing half-done; run it again to finish",
                self.url,
            ) from None
        except httpx.HTTPStatusError as exc:
            raise _status_error(exc.response.status_code, exc.response.text, doing, self.url) from None
        except ApiError as exc:
            raise _status_error(exc.status_code, exc.body, doing, self.url) from None
        except httpx.HTTPError as exc:
            raise DatacentricError(f"Label Studio request failed during {doing} ({_short(exc)})", self.url) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # malformed JSON, or JSON of the wrong shape (the SDK's models, our reading of them)
            raise _unreadable(doing, _short(exc), self.url) from None

    # -- raw calls the SDK has no helper for -----------------------------------------
    def _headers(self) -> dict[str, str]:
        # The SDK builds the right Authorization header (legacy token or personal access token).
        return {k: v for k, v in self.sdk._client_wrapper.get_headers().items() if k.lower() == "authorization"}

    def upload(self, project_id: int, files: list[tuple[str, Path]]) -> None:
        """Upload image files (stored name, local path) to the project, without creating tasks."""
        parts = []
        handles = []
        try:
            for i, (name, path) in enumerate(files):
                handle = open(path, "rb")
                handles.append(handle)
                parts.append((f"file{i}", (name, handle, "application/octet-stream")))
            response = self._http.post(
                f"{self.url}/api/projects/{project_id}/import",
                params={"commit_to_project": "false"},
                files=parts,
                headers=self._headers(),
            )
        finally:
            for handle in handles:
                handle.close()
        response.raise_for_status()

    def uploads(self, project_id: int) -> list[dict[str, Any]]:
        """Every file uploaded to the project: ``[{id, file: 'upload/<pid>/<uuid>-<name>'}]``."""
        response = self._http.get(
            f"{self.url}/api/projects/{project_id}/file-uploads",
            params={"all": "true"},
            headers=self._headers(),
        )
        response.raise_for_status()
        return list(response.json())


def normalize_url(url: str) -> str:
    """``localhost:8080/`` -> ``http://localhost:8080``."""
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://", url):
        url = "http://" + url
    return url


def connect(url: str, token: str, *, timeout: float = 20.0) -> tuple[Connection, dict[str, Any]]:
    """Open a connection and check the token: returns it and the current user (id, email, username)."""
    if not token:
        raise DatacentricError("no Label Studio API token given", normalize_url(url))
    conn = Connection(url, token, timeout=timeout)
    try:
        with conn.errors("login"):
            me = conn.sdk.users.whoami()
            user = {"id": me.id, "email": me.email or "", "username": me.username or ""}
    except BaseException:
        conn.close()
        raise
    return conn, user


def _unreadable(doing: str, detail: str, url: str) -> DatacentricError:
    return DatacentricError(
        f"Label Studio's answer during {doing} cannot be read ({detail}); is this a Label Studio server?",
        url,
    )


def _status_error(code: int | None, body: Any, doing: str, url: str) -> DatacentricError:
    if code is not None and 200 <= code < 300:  # the SDK's way of saying: not JSON
        return _unreadable(doing, f"not JSON: {_short(Exception(str(body)))[:60]}", url)
    if code in (401, 403):
        return DatacentricError(
            f"Label Studio refused the API token ({code} {'unauthorized' if code == 401 else 'forbidden'}); "
            "check the token in your environment variable",
            url,
        )
    if code == 404:
        return DatacentricError(f"not found on Label Studio (404) during {doing}", url)
    text = " ".join(str(body).split())  # one line, whatever the server sent
    return DatacentricError(f"Label Studio answered {code} during {doing}: {text[:200]}", url)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]
