"""``amigo_train.cli`` with accelerate's FSDP or DeepSpeed switched on for CPU processes, for the multi-process test.

accelerate (1.16) enables FSDP and DeepSpeed only for accelerator processes: with ``use_cpu`` the launch of
``recipes/accelerate/fsdp.yaml`` or ``deepspeed-zero3.yaml`` runs as plain data parallel (``MULTI_CPU``; the
gate is ``AcceleratorState.__init__`` in accelerate/state.py, the branch listing ``MULTI_GPU``, ``MULTI_XPU``...
for FSDP and ``... and not cpu`` for DeepSpeed). torch's FSDP2 and DeepSpeed's CPU accelerator both run on
gloo, so this script lifts only that gate, after accelerate has set everything else up from the launch's
config, and everything after it is the real thing: the Trainer shards the model (FSDP2 ``fully_shard``, or
ZeRO-3 partitioning at load), saves sharded checkpoints, and Amigo's own code saves the adapter.

With ``AMIGO_TEST_LOAD_PROBE`` set to a folder, each rank writes there how many of the model's parameters it
held right after ``load_stage_model`` (ZeRO-3 partitions at load: each rank holds a part).

Usage: ``accelerate launch --config_file ... tests/train/accelerate_on_cpu.py run RECIPE``; with a script
first (``... accelerate_on_cpu.py benchmarks/train_gpu.py --tiny``) that script runs instead of the CLI.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

from accelerate.state import AcceleratorState, DistributedType, PartialState

_accelerator_state_init = AcceleratorState.__init__


def _init(self: AcceleratorState, *args: Any, deepspeed_plugin: Any = None, fsdp_plugin: Any = None,
          **kwargs: Any) -> None:
    _accelerator_state_init(self, *args, deepspeed_plugin=deepspeed_plugin, fsdp_plugin=fsdp_plugin, **kwargs)
    if self.distributed_type != DistributedType.MULTI_CPU:
        return
    if fsdp_plugin is not None:
        self.distributed_type = DistributedType.FSDP
        self.fsdp_plugin = fsdp_plugin
    elif deepspeed_plugin is not None and os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true":
        self.distributed_type = DistributedType.DEEPSPEED
        deepspeed_plugin.set_mixed_precision(self._mixed_precision)
        deepspeed_plugin.select(_from_accelerator_state=True)
        self.deepspeed_plugins = deepspeed_plugin
    else:
        return
    PartialState._shared_state["distributed_type"] = self.distributed_type


def _probe_loads(folder: Path) -> None:
    import amigo_train.training as training

    load = training.load_stage_model

    def probed(base: str, adapters: list[Path], dtype: Any) -> Any:
        model = load(base, adapters, dtype)
        params = list(model.parameters())
        # a ZeRO-3 parameter is an empty placeholder; the rank's part of it is ds_tensor
        record = {"held": sum(getattr(p, "ds_tensor", p).numel() for p in params),
                  "whole": sum(getattr(p, "ds_numel", p.numel()) for p in params),
                  "partitioned": all(hasattr(p, "ds_id") for p in params)}
        rank = os.environ.get("RANK", "0")
        with (folder / f"rank{rank}.jsonl").open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        return model

    training.load_stage_model = probed


if __name__ == "__main__":
    AcceleratorState.__init__ = _init  # type: ignore[method-assign]
    if os.environ.get("AMIGO_TEST_LOAD_PROBE"):
        _probe_loads(Path(os.environ["AMIGO_TEST_LOAD_PROBE"]))
    if len(sys.argv) > 1 and sys.argv[1].endswith(".py"):
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
    else:
        sys.argv = ["amigo_train.cli", *sys.argv[1:]]
        runpy.run_module("amigo_train.cli", run_name="__main__")
