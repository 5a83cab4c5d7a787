import torch, torch.distributed as dist
import meshreduce.torch  # registers the backend "meshreduce"
dist.init_process_group("meshreduce")  # env:// here; file:// and tcp:// work too
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(10, 10))
model(torch.randn(4, 10)).sum().backward()  # gradients averaged on meshreduce
