"""Calls release the GIL: another Python thread runs while an allreduce is writing its outputs.

With the GIL held, no Python thread could look at the outputs mid-call: it would see them either
untouched or complete. Seeing them partly written proves the call ran without the GIL. Timing only
decides how many calls that takes (usually the first), never whether the test can pass wrongly."""

import threading

import numpy as np

import meshreduce

MARKER = -1.0  # the outputs before the call; every result is a sum of non-negative inputs


def test_another_thread_sees_outputs_partly_written():
    devices, count = 8, 1 << 21
    comm = meshreduce.Communicator(devices=list(range(devices)), threads=1, algorithm="direct")
    grads = [[np.arange(count, dtype=np.float32) + k] for k in range(devices)]
    outputs = [[np.empty(count, np.float32)] for _ in range(devices)]
    comm.allreduce(grads, "sum", outputs=outputs)  # plans and touches the memory once
    final = outputs[0][0].copy()
    states = set()
    for attempt in range(50):
        for device in outputs:
            device[0].fill(MARKER)
        worker = threading.Thread(target=comm.allreduce, args=(grads, "sum"), kwargs={"outputs": outputs})
        worker.start()
        while worker.is_alive():
            sample = np.concatenate([device[0][::4096] for device in outputs])
            written = np.count_nonzero(sample != MARKER)
            states.add("partly" if 0 < written < sample.size else "whole" if written else "none")
            if "partly" in states:
                break
        worker.join()
        np.testing.assert_array_equal(outputs[3][0], final)
        if "partly" in states:
            return
    raise AssertionError(f"50 calls, never seen mid-way (seen: {sorted(states)}): the call holds the GIL")
