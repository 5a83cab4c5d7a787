"""meshreduce as a torch.distributed backend.

    import meshreduce.torch  # registers the backend "meshreduce"
    torch.distributed.init_process_group("meshreduce", rank=rank, world_size=world)

Collectives (all on CPU tensors, run on meshreduce's shared-memory process executor):
all_reduce (SUM, AVG, MIN, MAX; float32, float64, float16, bfloat16, int32, int64),
all_reduce_coalesced (a list of tensors, of any sizes and dtypes, in one schedule),
broadcast, all_gather, reduce_scatter and barrier (any dtype for broadcast and all_gather).
Options go through ``init_process_group(..., pg_options=meshreduce.torch.Options(...))`` or
``new_group(..., pg_options=...)``; every rank must pass the same ones.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional, Union

import torch.distributed as dist

from . import _backend

BACKEND_NAME = "meshreduce"

__all__ = ["BACKEND_NAME", "Options", "options_of", "create_process_group"]


@dataclasses.dataclass(frozen=True)
class Options:
    """How a meshreduce process group runs.

    algorithm: a meshreduce algorithm name (``meshreduce algorithms`` lists them) or "auto".
    timeout: the deadline of every wait inside a collective (a peer's step, a store exchange);
        None takes init_process_group's timeout. A peer that died or never called makes the
        others raise within it.
    piece_elements: elements per piece of a step (the unit of overlap between processes).
    """

    algorithm: str = "auto"
    timeout: Optional[Union[datetime.timedelta, float]] = None
    piece_elements: int = 1 << 16


def _timedelta(value: Union[datetime.timedelta, float, int]) -> datetime.timedelta:
    if isinstance(value, datetime.timedelta):
        result = value
    else:
        result = datetime.timedelta(seconds=float(value))
    if result <= datetime.timedelta(0):
        raise ValueError(f"meshreduce timeout must be positive, got {value!r}")
    return result


def create_process_group(store, rank: int, world_size: int,
                         timeout: Union[datetime.timedelta, float] = datetime.timedelta(minutes=30),
                         options: Optional[Options] = None):
    """A meshreduce process group on `store` (collective: every rank calls it), without
    torch.distributed's global state; init_process_group("meshreduce") calls this."""
    options = options if options is not None else Options()
    if not isinstance(options, Options):
        raise TypeError(f"pg_options for the meshreduce backend must be meshreduce.torch.Options, "
                        f"got {type(options).__name__}")
    wait = _timedelta(options.timeout if options.timeout is not None else timeout)
    return _backend.create_process_group(store, int(rank), int(world_size), options.algorithm, wait,
                                         int(options.piece_elements))


def _create_from_torch(backend_options, pg_options):
    return create_process_group(backend_options.store, backend_options.group_rank,
                                backend_options.group_size, backend_options.timeout, pg_options)


def options_of(group) -> dict:
    """The options a meshreduce process group runs with (algorithm, timeout, piece_elements)."""
    return _backend.options_of(group)


if BACKEND_NAME.upper() not in dist.Backend._plugins:
    dist.Backend.register_backend(BACKEND_NAME, _create_from_torch, extended_api=True)
