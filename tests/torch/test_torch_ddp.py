"""DDP on meshreduce against DDP on gloo, through examples/ddp_train.py (which checks that every
rank's parameters are bitwise identical and compares the two backends): bitwise equal at world
2, where each gradient element is a sum of two terms and has one possible order."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "ddp_train.py")


def train(*arguments, timeout=300):
    completed = subprocess.run([sys.executable, SCRIPT, *arguments], capture_output=True, text=True, timeout=timeout)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


def test_ddp_at_world_2_trains_to_gloos_bits():
    output = train("--backend", "both", "--world", "2", "--steps", "40", "--width", "256", "--every", "10")
    assert "gloo: 2 ranks, 40 steps" in output and "parameters bitwise identical on every rank" in output, output
    assert "meshreduce: 2 ranks, 40 steps" in output, output
    assert "meshreduce vs gloo: parameters bitwise equal" in output, output


def test_ddp_at_world_4_matches_gloo_within_the_summation_order():
    output = train("--backend", "both", "--world", "4", "--steps", "40", "--width", "256", "--every", "10")
    assert output.count("parameters bitwise identical on every rank") == 2, output
    match = re.search(r"largest difference ([0-9.e+-]+)\), final loss difference ([0-9.e+-]+)", output)
    assert match, output
    # Another order of a 4-term float32 sum changes a gradient by a few ulps; 40 SGD steps keep
    # that far below the parameters' scale (~0.05) and the loss's (~2).
    assert float(match.group(1)) < 1e-4 and float(match.group(2)) < 1e-4, output


def test_ddp_on_meshreduce_alone_keeps_the_ranks_identical():
    output = train("--backend", "meshreduce", "--world", "4", "--steps", "10", "--width", "64", "--every", "5")
    assert "meshreduce: 4 ranks, 10 steps; parameters bitwise identical on every rank" in output, output
    assert "gloo" not in output and "meshreduce trained in" in output, output


def test_ddp_rejects_a_bad_world_size():
    completed = subprocess.run([sys.executable, SCRIPT, "--world", "0"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2 and "--world must be 1..64, got 0" in completed.stderr
