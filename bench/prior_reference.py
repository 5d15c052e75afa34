#!/usr/bin/python3
"""The reference prior and sampler in Debian's PyTorch, for bench `prior`.
Usage: prior_reference.py CHECKPOINT_OUT LOGITS_OUT THREADS STEPS_B1 STEPS_B8
Builds the full reference transformer (512 wide, 8 heads, 24 layers, 256 tokens, codebook 1024; module
structure and keys per the spec, random weights), saves it as absorbing_*.th, saves logits on a fixed
half-masked input, and times AbsorbingDiffusion.sample's loop (spec section 5.1): every step runs the
network on the whole batch and draws a multinomial at every position. Prints JSON (ms per step)."""
import json, math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

ckpt_out, logits_out, threads, steps_b1, steps_b8 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
K, D, H, LAYERS, L, T = 1024, 512, 8, 24, 256, 256


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.key, self.query, self.value, self.proj = (nn.Linear(D, D) for _ in range(4))

    def forward(self, x):
        B, T_, C = x.shape
        k = self.key(x).view(B, T_, H, C // H).transpose(1, 2)
        q = self.query(x).view(B, T_, H, C // H).transpose(1, 2)
        v = self.value(x).view(B, T_, H, C // H).transpose(1, 2)
        att = F.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1))), dim=-1)
        return self.proj((att @ v).transpose(1, 2).contiguous().view(B, T_, C))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = Attention()
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(K + 1, D)
        self.pos_emb = nn.Parameter(torch.randn(1, L, D) * 0.02)
        self.start_tok = nn.Parameter(torch.zeros(1, 1, D))
        self.blocks = nn.Sequential(*[Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, K, bias=False)

    def forward(self, idx):
        return self.head(self.ln_f(self.blocks(self.tok_emb(idx) + self.pos_emb[:, :idx.shape[1]])))


class Absorbing(nn.Module):
    def __init__(self):
        super().__init__()
        self._denoise_fn = Denoiser()
        for name in ("Lt_history", "Lt_count", "loss_history"):
            self.register_buffer(name, torch.zeros(T + 1))


model = Absorbing().eval()
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
