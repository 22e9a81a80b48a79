"""Path settings of the app follow the run: what an app's raw value says, and the overrides that move it.

The sweeps through the real command line are in test_app_log_root.py; these check the pure rules (which keys,
which layout, what already follows the job) and that the overrides compose in real Hydra to the value meant.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from metta_ab import job_dir
from metta_ab.definition.job_paths import PATH_KEY_NAMES, dependencies, layout_below, matches
from metta_ab.definition.overrides import format_value, interpolating_override, value_override


@pytest.mark.parametrize(
    ("raw", "inside"),
    [
        ("logs/runs", "logs/runs"),
        ("./logs/runs/", "logs/runs"),
        ("../../shared/tb", "shared/tb"),
        (".", ""),
        ("logs/${now:%Y-%m-%d}_${seed}", "logs/${now:%Y-%m-%d}_${seed}"),
        ("${hydra:runtime.cwd}/outputs/tb", "outputs/tb"),
        ("/tmp/exp/logs", "logs"),
        ("/tmp/exp/logs/${seed}", "logs/${seed}"),
        ("${paths.root_dir}/logs/", "logs"),
        ("~/ray_results", "ray_results"),
        ("${oc.env:LOG_DIR}", "log_dir"),
    ],
)
def test_layout_below_the_job_dir(raw: str, inside: str) -> None:
    assert layout_below("trainer.log_dir", raw) == inside


def test_dependencies_follow_interpolations_to_the_job_dir() -> None:
    config = {
        "paths.output_dir": "${hydra:runtime.output_dir}",
        "paths.root_dir": "${oc.env:PROJECT_ROOT}",
        "paths.log_dir": "${paths.root_dir}/logs/",
        "logger.save_dir": "${paths.output_dir}/tb",
        "logger.sub": "${.save_dir}/x",
        "log_root": "logs",
        "tb_dir": "${oc.select:log_root,x}/tb",
        "loop": "${loop2}",
        "loop2": "${loop}",
    }
    assert dependencies("logger.save_dir", config.get) == ({"paths.output_dir"}, True)
    assert dependencies("logger.sub", config.get) == ({"logger.save_dir", "paths.output_dir"}, True)
    assert dependencies("paths.log_dir", config.get) == ({"paths.root_dir"}, False)
    assert dependencies("tb_dir", config.get) == ({"log_root"}, False)
    assert dependencies("loop", config.get) == ({"loop2"}, False)
    assert dependencies("run_dir", {"run_dir": "${hydra:sweep.dir}/x"}.get) == (set(), False)  # shared
    assert dependencies("run_dir", {"run_dir": "${hydra.run.dir}/x"}.get) == (set(), True)


def test_key_patterns() -> None:
    assert matches("logger.log_dir", PATH_KEY_NAMES) and matches("log_root", PATH_KEY_NAMES)
    assert not any(matches(k, PATH_KEY_NAMES) for k in ("paths.data_dir", "paths.root_dir", "ckpt_path"))
    assert matches("paths.data_dir", ["paths.*"]) and not matches("data_dir", ["paths.*"])
    assert matches("a.b.save_dir", ["save_*"]) and not matches("a.save_dir", ["b.save_dir"])


def test_job_dir_helper() -> None:
    assert job_dir() == "@job_dir"
    assert job_dir("logs", "tb/") == "@job_dir/logs/tb"


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("job_paths_conf")
    (folder / "config.yaml").write_text("log_root: logs\nseed: 3\n", encoding="utf-8")
    return folder


def composed_raw(config_dir: Path, override: str) -> str:
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        cfg = compose("config", overrides=[override])
    return cfg._get_node("log_root")._value()


def test_marker_composes_to_the_job_dir_and_keeps_the_rest_literal(config_dir: Path) -> None:
    raw = composed_raw(config_dir, value_override("log_root", job_dir("it's ${x}")))
    assert raw == "${hydra:runtime.output_dir}/it's \\${x}"
    assert OmegaConf.create({"v": raw.split("/", 1)[1]}).v == "it's ${x}"  # the rest is text, not an interpolation
    assert format_value(job_dir()) == "'${hydra:runtime.output_dir}'"


def test_moved_app_value_keeps_its_interpolations(config_dir: Path) -> None:
    raw = composed_raw(config_dir, interpolating_override("log_root", "${hydra:runtime.output_dir}/l's/${seed}"))
    assert raw == "${hydra:runtime.output_dir}/l's/${seed}"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        cfg = compose("config", overrides=[interpolating_override("log_root", "a,b/${seed}")])
    assert cfg.log_root == "a,b/3"  # resolved in the job's config: a comma is no sweep
