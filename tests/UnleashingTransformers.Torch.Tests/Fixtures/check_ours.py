#!/usr/bin/python3
"""Checks that PyTorch's torch.load reads a file the binding wrote: usage check_ours.py FILE JSON.
JSON describes what the file must hold ({name: {"shape", "dtype", "values"}}); exit 0 when it does."""
import json, sys
import torch

obj = torch.load(sys.argv[1])
want = json.load(open(sys.argv[2]))
assert isinstance(obj, dict), f"got {type(obj)}"
assert list(obj.keys()) == list(want.keys()), f"keys {list(obj.keys())} != {list(want.keys())}"
for k, spec in want.items():
    t = obj[k]
    assert list(t.shape) == spec["shape"], f"{k}: shape {list(t.shape)} != {spec['shape']}"
    assert str(t.dtype) == spec["dtype"], f"{k}: dtype {t.dtype} != {spec['dtype']}"
    vals = t.double().flatten().tolist()
    assert all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(vals, spec["values"])), f"{k}: values differ"
# A state dict written by the binding loads into a PyTorch module with load_state_dict too.
if "proj.weight" in obj:
    m = torch.nn.Linear(obj["proj.weight"].shape[1], obj["proj.weight"].shape[0])
    m.load_state_dict({"weight": obj["proj.weight"], "bias": obj["proj.bias"]})
print("ok")
