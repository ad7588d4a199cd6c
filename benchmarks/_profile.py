"""Where a call's device time goes: ``torch.profiler`` kernels grouped by kind.

On CUDA it reads the kernels (and copies) the call launched: how busy the device was over the
call's wall time (well under 1: launch- or host-bound), how many kernels ran, and the share of
kernel time in matrix multiplies, attention, Triton-fused kernels (``torch.compile``), other
element-wise and reduction kernels (norms, rotary, activations: fusion's target) and copies.
On CPU the same from the operators' own time (no kernels: "kernels" counts operators).
The profiler adds some overhead per launch, so "busy" is a lower bound.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

KINDS = (
    ("copies", re.compile(r"^(memcpy|memset)", re.I)),
    ("attention", re.compile(r"flash|fmha|attention|sdpa|varlen", re.I)),
    ("matmul", re.compile(r"gemm|nvjet|cutlass|xmma|cublas|s16816|aten::(mm|addmm|bmm)$", re.I)),
    ("fused", re.compile(r"^triton", re.I)),
)
OTHER = "elementwise"


def kind_of(name: str) -> str:
    """The kind of a kernel or operator, by name; anything unmatched is element-wise work."""
    return next((kind for kind, pattern in KINDS if pattern.search(name)), OTHER)


@dataclass
class Profile:
    busy: float
    kernels: int
    shares: dict[str, float]
    top: list[tuple[str, float, float]]  # (name, ms, share), longest first

    def columns(self, label: str, calls: int) -> dict[str, object]:
        """Table columns: busy, kernels per call, and each kind's share of device time."""
        return {
            f"{label} busy": self.busy,
            f"{label} kernels/call": self.kernels / max(calls, 1),
            **{f"{label} {kind}": share for kind, share in self.shares.items() if share},
        }


def profile(fn: Callable[[], object], device: str, top: int = 8) -> Profile:
    """Run ``fn`` once under the profiler (after the caller's warm-up)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    cuda = device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profiler(activities=activities) as prof:
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        wall_us = (time.perf_counter() - started) * 1e6
    times: dict[str, float] = {}
    count = 0
    for event in prof.events():
        if cuda and event.device_type == DeviceType.CUDA:
            spent = event.time_range.elapsed_us()
        elif not cuda and event.name.startswith("aten::"):
            spent = event.self_cpu_time_total
        else:
            continue
        count += 1
        times[event.name] = times.get(event.name, 0.0) + spent
    total = sum(times.values()) or 1.0
    shares = dict.fromkeys([kind for kind, _ in KINDS] + [OTHER], 0.0)
    for name, spent in times.items():
        shares[kind_of(name)] += spent / total
    longest = sorted(times.items(), key=lambda item: -item[1])[:top]
    return Profile(
        busy=min(1.0, sum(times.values()) / wall_us),
        kernels=count,
        shares=shares,
        top=[(name[:90], spent / 1000, spent / total) for name, spent in longest],
    )
