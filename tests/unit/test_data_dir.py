"""Where a worker keeps its local files (FUNDWATCH_DATA_DIR), and that the folder is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings, SettingsError, resolve_data_dir

HOME = Path("/home/analyst")


def test_the_default_is_the_xdg_state_dir_whatever_the_current_folder() -> None:
    env = {"HOME": str(HOME)}
    expected = HOME / ".local/state/fundwatch/worker-data/fundwatch"
    assert resolve_data_dir("", "fundwatch", env, Path("/")) == expected
    assert resolve_data_dir("", "fundwatch", env, Path("/srv/clone/sub")) == expected


def test_xdg_state_home_moves_it_and_a_relative_one_is_ignored_as_the_spec_says() -> None:
    env = {"HOME": str(HOME), "XDG_STATE_HOME": "/var/state"}
    assert resolve_data_dir("", "fundwatch", env, Path("/")) == Path(
        "/var/state/fundwatch/worker-data/fundwatch"
    )
    env["XDG_STATE_HOME"] = "state"
    assert resolve_data_dir("", "fundwatch", env, Path("/")) == Path(
        "/home/analyst/.local/state/fundwatch/worker-data/fundwatch"
    )


def test_two_deployments_on_one_machine_do_not_share_the_default() -> None:
    env = {"HOME": str(HOME)}
    assert resolve_data_dir("", "fundwatch", env, Path("/")) != resolve_data_dir(
        "", "staging", env, Path("/")
    )


def test_a_given_data_dir_is_used_as_given_a_relative_one_from_the_current_folder() -> None:
    env = {"HOME": str(HOME)}
    assert resolve_data_dir("/var/lib/fundwatch", "fundwatch", env, Path("/x")) == Path(
        "/var/lib/fundwatch"
    )
    assert resolve_data_dir("run/data", "fundwatch", env, Path("/srv/clone")) == Path(
        "/srv/clone/run/data"
    )
    assert resolve_data_dir("~/fw", "fundwatch", env, Path("/x")).is_absolute()


def test_settings_from_the_environment_hold_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = Settings.from_env({"FUNDWATCH_DATA_DIR": "worker-data"})
    assert relative.data_dir == str(tmp_path / "worker-data")
    default = Settings.from_env({"HOME": str(HOME), "FUNDWATCH_TOPIC_PREFIX": "t1"})
    assert default.worker_data_dir == HOME / ".local/state/fundwatch/worker-data/t1"


def test_the_data_dir_is_made_with_its_parents(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "a" / "b" / "worker-data"))
    assert settings.make_data_dir().is_dir()
    assert settings.make_data_dir().is_dir()  # again: already there is fine


def test_a_data_dir_that_cannot_be_made_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    settings = Settings(data_dir=str(tmp_path / "a-file" / "worker-data"))
    with pytest.raises(SettingsError, match="FUNDWATCH_DATA_DIR"):
        settings.make_data_dir()
