from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datacentric.errors import DatacentricError

GOOD = """
from datacentric.improve.synth import Generator, Synthetic

class Stripes(Generator):
    name = "stripes"
    needs_defects = False
    def generate(self, target, defects, backgrounds, n, *, seed=0):
        return []

def register_generators(register):
    register(Stripes)
"""


def test_builtins_register_through_the_hooks(fresh_registry):
    plugins = fresh_registry
    entry = next(e for e in plugins.entries("generator") if e.name == "copy_paste")
    assert entry.source == "built-in"
    assert {"tf_efficientnet_lite0", "test_efficientnet"} <= set(plugins.names("backbone"))
    assert plugins.broken_plugins() == []


def test_fake_plugin_is_discovered_and_unregistered(fresh_registry, install_fake):
    plugins = fresh_registry
    dist, ep, module = install_fake(GOOD)
    entry = next(e for e in plugins.entries("generator") if e.name == "stripes")
    assert entry.plugin == ep and entry.source == f"{dist} 0.3"
    from datacentric.improve import get_generator

    assert get_generator("stripes").name == "stripes"
    plugins.unregister("generator", "stripes")
    assert "stripes" not in plugins.names("generator")
    with pytest.raises(DatacentricError, match="no generator 'stripes'"):
        plugins.get("generator", "stripes")


def test_runtime_registration_context(fresh_registry):
    plugins = fresh_registry

    def factory(*, pretrained=True, num_classes=0):
        return "net"

    with plugins.registered("backbone", factory, name="mynet") as entry:
        assert plugins.get("backbone", "mynet")() == "net"
        assert entry.source == "register()"
    assert "mynet" not in plugins.names("backbone")


def test_broken_plugin_is_skipped_and_reported(fresh_registry, install_fake):
    plugins = fresh_registry
    _, bad_ep, _ = install_fake("import not_a_real_module_xyz\n")
    _, half_ep, _ = install_fake(GOOD.replace("register(Stripes)", "register(Stripes)\n    raise RuntimeError('boom')"))
    _, good_ep, _ = install_fake(GOOD.replace('"stripes"', '"dots"'))
    broken = {b.plugin: b for b in plugins.broken_plugins()}
    assert set(broken) == {bad_ep, half_ep}
    assert "ModuleNotFoundError" in broken[bad_ep].error
    assert "boom" in broken[half_ep].error
    names = plugins.names("generator")
    assert "dots" in names and "copy_paste" in names
    assert "stripes" not in names  # a plugin that fails half-way registers nothing

    from datacentric.cli import app

    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "copy_paste" in result.output and "dots" in result.output
    assert f"broken generator plugin '{bad_ep}'" in result.output


def test_duplicate_registration_raises(fresh_registry, install_fake):
    plugins = fresh_registry
    with pytest.raises(DatacentricError, match="duplicate generator 'copy_paste'"):
        plugins.register("generator", object(), name="copy_paste")
    # a plugin that claims a taken name is reported broken, the built-in stays
    _, ep, _ = install_fake(GOOD.replace('"stripes"', '"copy_paste"'))
    plugins.reset()
    assert [b.plugin for b in plugins.broken_plugins()] == [ep]
    assert "duplicate" in plugins.broken_plugins()[0].error
    assert plugins.get("generator", "copy_paste").__module__ == "datacentric.improve.synth"


def test_env_var_limits_outside_plugins(fresh_registry, install_fake, monkeypatch):
    plugins = fresh_registry
    _, ep1, _ = install_fake(GOOD)
    dist2, _, _ = install_fake(GOOD.replace('"stripes"', '"dots"'))
    monkeypatch.setenv(plugins.ENV_VAR, "")
    plugins.reset()
    assert plugins.names("generator") == ["copy_paste"]
    monkeypatch.setenv(plugins.ENV_VAR, dist2)
    plugins.reset()
    assert plugins.names("generator") == ["copy_paste", "dots"]
    monkeypatch.setenv(plugins.ENV_VAR, ep1)
    plugins.reset()
    assert plugins.names("generator") == ["copy_paste", "stripes"]


def test_entry_point_may_name_the_hook_function(fresh_registry, install_fake):
    plugins = fresh_registry
    code = "def hook(register):\n    register(lambda **kw: 'net', name='tinynet')\n"
    install_fake(code, group="datacentric.backbones", attr=":hook")
    assert plugins.get("backbone", "tinynet")() == "net"


def test_discovery_runs_once(fresh_registry, install_fake):
    plugins = fresh_registry
    plugins.load_plugins()
    install_fake(GOOD)  # installed after discovery: not seen until reset
    assert "stripes" not in plugins.names("generator")
    plugins.reset()
    assert "stripes" in plugins.names("generator")
