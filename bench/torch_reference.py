#!/usr/bin/python3
"""The binding benchmark's computations in Debian's PyTorch (same libtorch 1.13), for side-by-side
numbers. Usage: torch_reference.py THREADS REPS; prints one JSON object of medians in ms."""
import json, math, statistics, sys, time
import torch

threads, reps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
out = {}


def median_ms(fn, reps):
    fn(); fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


class Block(torch.nn.Module):
    """The reference prior's block (minGPT style, models/transformer.py): pre-LN, separate k/q/v."""

    def __init__(self, d=512, heads=8):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.key, self.query, self.value = (torch.nn.Linear(d, d) for _ in range(3))
        self.proj = torch.nn.Linear(d, d)
        self.fc1, self.fc2 = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.heads
        h = self.ln1(x)
        k = self.key(h).view(B, T, self.heads, hs).transpose(1, 2)
        q = self.query(h).view(B, T, self.heads, hs).transpose(1, 2)
        v = self.value(h).view(B, T, self.heads, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = torch.nn.functional.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))


with torch.no_grad():
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        out[f"gemm{n}"] = median_ms(lambda: torch.matmul(a, b), max(3, reps // (n // 512) ** 2))
    block = Block()
    for batch in (1, 8):
        x = torch.randn(batch, 256, 512)
        out[f"block_b{batch}"] = median_ms(lambda: block(x), max(3, reps // batch))
    s1, s2 = torch.ones(2, 2), torch.ones(2, 2)
    out["small_add"] = median_ms(lambda: [s1 + s2 for _ in range(1000)], reps)
print(json.dumps(out))
