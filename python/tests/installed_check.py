"""Run by installed_check.cmake with argv = [prefix, path of the installed libmeshreduce.so]."""
import ctypes
import os
import sys

import numpy as np

import meshreduce

prefix, library = sys.argv[1], sys.argv[2]
assert os.path.realpath(meshreduce.__file__).startswith(os.path.realpath(prefix)), meshreduce.__file__
assert os.path.realpath(meshreduce._core.__file__).startswith(os.path.realpath(prefix)), meshreduce._core.__file__
grads = [[np.arange(10, dtype=np.float32) * (k + 1)] for k in range(4)]
meshreduce.allreduce_grads_hierarchical(grads)
assert grads[2][0].tolist() == [10.0 * i for i in range(10)], grads[2][0]
assert "resnet50" in meshreduce.workload_names()

lib = ctypes.CDLL(library)
lib.meshreduce_status_name.restype = ctypes.c_char_p
assert lib.meshreduce_status_name(0) == b"ok"
assert lib.meshreduce_status_name(8) == b"timeout", lib.meshreduce_status_name(8)
print("installed package at", os.path.dirname(meshreduce.__file__), "and", library, "work")
