"""The README's "Use it from PyTorch" lines (examples/python/torch_quickstart.py) run as a PyTorch
user would paste them: two processes launched by hand with env:// variables. The README must show
them verbatim."""

import os
import socket
import subprocess
import sys

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(SOURCE_DIR, "examples", "python", "torch_quickstart.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_quickstart_trains_one_step_on_two_processes():
    port = str(free_port())
    processes = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank), WORLD_SIZE="2")
        processes.append(subprocess.Popen([sys.executable, EXAMPLE], env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
    outcomes = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            raise AssertionError("the README's PyTorch lines did not finish within 120 s")
        outcomes.append((process.returncode, err))
    for rank, (code, err) in enumerate(outcomes):
        assert code == 0, f"rank {rank} exited {code}: {err}"


def test_readme_shows_the_lines_verbatim():
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as readme:
        text = readme.read()
    with open(EXAMPLE, encoding="utf-8") as example:
        assert example.read() in text, "README.md must show examples/python/torch_quickstart.py verbatim"
