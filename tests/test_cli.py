"""The command line: every job is registered, and training options become profile overrides."""

from __future__ import annotations

import pytest

from respirelib.apps.cli import _training_overrides, build_parser


def test_every_command_is_registered():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"data", "synth", "pipeline", "demo", "train", "finetune", "evaluate", "explain", "export", "predict",
            "bench", "optimism"} <= set(commands)


def test_training_options_become_overrides():
    args = build_parser().parse_args(["train", "--out", "run", "--no-concat", "--no-clip", "--select-on", "test",
                                      "--select-metric", "score", "--cycle-seconds", "5", "--padding", "repeat"])
    assert _training_overrides(args) == {
        "stage1": {"concat": False, "clip_blank": False, "select_on": "test", "select_metric": "score"},
        "audio": {"cycle_duration": 5.0, "padding": "repeat"}}
    label_free = build_parser().parse_args(["train", "--out", "run", "--padding", "context", "--eval-padding", "zero",
                                            "--split-seed", "3"])
    assert _training_overrides(label_free) == {"audio": {"padding": "context", "eval_padding": "zero"}}
    assert label_free.split_seed == 3
    with pytest.raises(SystemExit):  # the label-aware padding is no evaluation choice
        build_parser().parse_args(["train", "--out", "run", "--eval-padding", "smart"])
    plain = build_parser().parse_args(["train", "--out", "run"])
    assert _training_overrides(plain) == {} and plain.init == "imagenet-if-available" and plain.split == "official"


def test_input_length_outside_table_two_is_refused(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--out", "run", "--cycle-seconds", "12"])
    assert "between 1 and 9 s" in capsys.readouterr().err


def test_the_demo_trains_five_seeds_unless_told_otherwise():
    from respirelib.apps.launch import pipeline_seeds

    assert pipeline_seeds("quick") == [0, 1, 2, 3, 4] and pipeline_seeds("quick", seed=4) == [4, 5, 6, 7, 8]
    assert pipeline_seeds("quick", seeds=[7]) == [7]
    assert pipeline_seeds("smoke") == [0] and pipeline_seeds("paper", seed=2) == [2]
