#!/usr/bin/python3
"""The reference prior and sampler in Debian's PyTorch, for bench `prior`.
Usage: prior_reference.py CHECKPOINT_OUT LOGITS_OUT THREADS STEPS_B1 STEPS_B8
Builds the full reference transformer (512 wide, 8 heads, 24 layers, 256 tokens, codebook 1024; module
structure and keys per the spec, random weights), saves it as absorbing_*.th, saves logits on a fixed
half-masked input, and times AbsorbingDiffusion.sample's loop (spec section 5.1): every step runs the
network on the whole batch and draws a multinomial at every position. Prints JSON (ms per step)."""
import json, os, sys, time
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unleashing_reference import Absorbing  # noqa: E402 (copied next to this script from reference/)

ckpt_out, logits_out, threads, steps_b1, steps_b8 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
K, D, H, LAYERS, L, T = 1024, 512, 8, 24, 256, 256


model = Absorbing(K, D, H, LAYERS, L, T).eval()
torch.save(model.state_dict(), ckpt_out)
net = model._denoise_fn
out = {"params": sum(p.numel() for p in net.parameters())}

with torch.no_grad():
    idx = torch.randint(0, K, (1, L))
    idx[:, torch.randperm(L)[: L // 2]] = K
    torch.save({"idx": idx, "logits": net(idx)}, logits_out)

    def reference_steps(batch, steps, temp=1.0):
        """The first `steps` of sample(sample_steps=256): rand, forward, softmax, multinomial, write."""
        x = torch.full((batch, L), K, dtype=torch.long)
        unmasked = torch.zeros_like(x, dtype=torch.bool)
        times = []
        for t in list(range(256, 0, -1))[:steps]:
            start = time.perf_counter()
            changes = (torch.rand(x.shape) < 1 / t) & ~unmasked
            unmasked = unmasked | changes
            logits = net(x) / temp
            x_hat = torch.multinomial(F.softmax(logits, -1).reshape(-1, K), 1, replacement=True).view(batch, L)
            x[changes] = x_hat[changes]
            times.append((time.perf_counter() - start) * 1000)
        return sum(times) / len(times)

    reference_steps(1, 1)
    out["step_b1"] = reference_steps(1, steps_b1)
    out["step_b8"] = reference_steps(8, steps_b8)
print(json.dumps(out))
