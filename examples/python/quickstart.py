import numpy as np
import meshreduce

# 8 devices, each holding 2 gradient tensors: grads[device][tensor], NumPy arrays.
grads = [[np.full((100, 10), k, np.float32), np.ones(10, np.float32)] for k in range(8)]

# tensorpack's call, in place, averaged over the 8 devices: (0+1+...+7)/8 = 3.5.
meshreduce.allreduce_grads_hierarchical(grads, average=True)

# A communicator plans once per tensor layout; the calls release the GIL while they run.
comm = meshreduce.Communicator(topology="dgx1-v100", algorithm="dgx1-hierarchical")
comm.allreduce(grads, "sum")  # now 8 x 3.5 = 28 everywhere
plan = comm.plan(grads[0])
print(grads[5][0][0, 0], grads[0][1][9], plan.choices[0].algorithm, len(plan.schedule.steps))
