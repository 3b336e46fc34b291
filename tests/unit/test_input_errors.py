"""One base class for input errors, one map from error to exit code."""
from __future__ import annotations

from pathlib import Path

import pytest

from triotrade.cli.exits import Exit, exit_for
from triotrade.kernel.config import ConfigError, TradingConfig, structure
from triotrade.kernel.errors import InputError
from triotrade.sim import scenario
from triotrade.venues.live import LiveConfigError, load_live_config


def test_every_input_error_is_an_input_error_and_exits_2(tmp_path: Path) -> None:
    with pytest.raises(scenario.ScenarioError) as scn:
        scenario.loads("version: 1\n", "s.yaml")
    with pytest.raises(ConfigError) as cfg:
        structure({"risk": {"max_errors": "x"}}, TradingConfig, "config", "c.yaml")
    live = tmp_path / "live.yaml"
    live.write_text("instruments: []\n")
    with pytest.raises(LiveConfigError) as lcfg:
        load_live_config(live)
    for info in (scn, cfg, lcfg):
        exc = info.value
        assert isinstance(exc, InputError)
        outcome = exit_for(exc)
        assert outcome is not None and outcome[0] is Exit.INVALID_INPUT
        assert outcome[1] == exc.lines()
    assert cfg.value.lines() == ["c.yaml: config.risk.max_errors: expected an integer, got 'x'"]
    assert lcfg.value.lines() == [f"{live}: instruments: at least one instrument is required"]
    # found inside trio's exception groups too
    group = ExceptionGroup("nursery", [RuntimeError("other"), scn.value])
    assert exit_for(group) == (Exit.INVALID_INPUT, scn.value.lines())
