#!/usr/bin/python3
"""A tiny absorbing prior with the reference's module structure and state-dict keys (written from
shared/reference/unleashing-spec.md section 3), its logits on fixed inputs, for the C# loader test.
Run with Debian's python3-torch: /usr/bin/python3 make_prior_fixture.py"""
import json, os, sys
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../reference"))
from unleashing_reference import Absorbing  # noqa: E402

torch.manual_seed(7)
here = os.path.dirname(os.path.abspath(__file__))
V, D, H, LAYERS, L = 12, 32, 4, 2, 16  # codebook 12 (+1 mask), width 32, 4 heads, 2 blocks, 16 tokens


# The released files may carry T = 1000 bookkeeping buffers.
m = Absorbing(V, D, H, LAYERS, L, 1000, pos_std=0.1, random_history=True).eval()
with torch.no_grad():  # non-trivial norms, so a swapped weight/bias would show
    for mod in m.modules():
        if isinstance(mod, nn.LayerNorm):
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.uniform_(-0.2, 0.2)
torch.save(m.state_dict(), os.path.join(here, "absorbing_tiny.th"))
idx = torch.randint(0, V, (3, L))
idx[0, :8] = V          # some masked positions (mask id = codebook size)
idx[1] = V              # all masked
with torch.no_grad():
    logits = m._denoise_fn(idx)
json.dump({"idx": idx.flatten().tolist(), "shape": list(logits.shape), "logits": logits.flatten().tolist(),
           "codebook": V, "emb": D, "heads": H, "layers": LAYERS, "block": L},
          open(os.path.join(here, "absorbing_tiny.json"), "w"))
print("prior fixture written", sum(p.numel() for p in m.parameters()), "parameters")
