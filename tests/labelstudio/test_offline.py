"""Parts of the Label Studio sync that need no server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datacentric.cli import app
from datacentric.errors import DatacentricError
from datacentric.labelstudio import label_config, pull
from datacentric.labelstudio.client import config_classes


def test_label_config_is_single_choice_over_the_classes_and_escapes_names():
    config = label_config(["ok", 'odd "name" & <x>'])
    assert 'choice="single"' in config and '<Image name="image" value="$image"' in config
    assert config_classes(config) == ["ok", 'odd "name" & <x>']
    with pytest.raises(DatacentricError, match="no classes"):
        label_config([])


def test_pull_before_any_push_says_what_to_do(small_project):
    with pytest.raises(DatacentricError, match="run `datacentric labelstudio push` first"):
        pull(small_project, "token")


def test_only_flagged_without_an_audit_is_refused_before_any_network(small_project):
    from datacentric.labelstudio.sync import _review_order

    with pytest.raises(DatacentricError, match="no audit run yet"):
        _review_order(small_project, True)


def test_the_token_is_no_command_line_argument():
    out = CliRunner().invoke(app, ["labelstudio", "push", "--help"])
    assert out.exit_code == 0 and "--token-env" in out.output
    assert "--token " not in out.output and "--api-key" not in out.output
