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
    from datacentric.labelstudio.tasks import review_order

    with pytest.raises(DatacentricError, match="no audit run yet"):
        review_order(small_project, True)


def test_the_token_is_no_command_line_argument():
    out = CliRunner().invoke(app, ["labelstudio", "push", "--help"])
    assert out.exit_code == 0 and "--token-env" in out.output
    assert "--token " not in out.output and "--api-key" not in out.output


def test_rules_become_an_escaped_instructions_section_listed_by_pair():
    from datacentric.labelstudio.client import RULES_END, RULES_START, rules_section

    section = rules_section([("scratch", "pit", "a <2 mm mark & round is a pit"), ("dent", "ok", "any dip")])
    assert section.startswith(RULES_START) and section.endswith(RULES_END)
    assert section.index("dent vs ok") < section.index("scratch vs pit")
    assert "a &lt;2 mm mark &amp; round is a pit" in section and "<2 mm" not in section
    assert rules_section([]) == ""


def test_instructions_replace_only_our_section_and_keep_the_teams_text():
    from datacentric.labelstudio.client import instructions, rules_section

    first = rules_section([("pit", "scratch", "longer than 2 mm is a scratch")])
    mine = instructions("<p>Zoom in before you decide.</p>", first)
    assert mine.startswith("<p>Zoom in before you decide.</p>") and "longer than 2 mm" in mine
    newer = rules_section([("pit", "scratch", "longer than 3 mm is a scratch")])
    again = instructions(mine + "\n<p>Ask Tom.</p>", newer)
    assert "3 mm" in again and "2 mm" not in again and again.count("Labelling rules") == 1
    assert "Zoom in" in again and again.endswith("<p>Ask Tom.</p>")
    assert instructions(again, "") == "<p>Zoom in before you decide.</p>\n<p>Ask Tom.</p>"  # rules gone
    assert instructions(None, first) == first and instructions(first, first) == first


def test_our_section_is_found_after_label_studio_sanitised_the_instructions():
    """The server drops HTML comments and may re-space the markup it keeps."""
    import re

    from datacentric.labelstudio.client import instructions, rules_section

    stored = instructions("<p>Zoom in first.</p>", rules_section([("pit", "scratch", "2 mm")]))
    sanitised = re.sub(r"<!--.*?-->", "", stored).replace("\n", "\n\n")
    again = instructions(sanitised, rules_section([("pit", "scratch", "3 mm")]))
    assert "3 mm" in again and "2 mm" not in again and again.count("Labelling rules") == 1
    assert again.startswith("<p>Zoom in first.</p>")


def test_push_updates_the_instructions_only_when_the_rules_changed(small_project):
    from types import SimpleNamespace

    from datacentric.labelbook import add_rule
    from datacentric.labelstudio.studio_project import show_rules

    calls = []
    conn = SimpleNamespace(sdk=SimpleNamespace(projects=SimpleNamespace(update=lambda **kw: calls.append(kw))))
    assert show_rules(conn, small_project, 7, "<p>ours</p>") == 0 and calls == []  # no rules, nothing sent
    add_rule(small_project, "pit vs scratch: longer than 2 mm is a scratch")
    assert show_rules(conn, small_project, 7, "<p>ours</p>") == 1
    assert calls[0]["id"] == 7 and calls[0]["show_instruction"] is True
    assert calls[0]["expert_instruction"].startswith("<p>ours</p>") and "2 mm" in calls[0]["expert_instruction"]
    show_rules(conn, small_project, 7, calls[0]["expert_instruction"])
    assert len(calls) == 1  # already there: no second update
