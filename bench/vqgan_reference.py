#!/usr/bin/python3
"""The reference VQ-GAN autoencoder in Debian's PyTorch, for bench `vqgan`.
Usage: vqgan_reference.py CHECKPOINT_OUT THREADS BATCH REPS
Builds the full reference autoencoder (256 px, nf 128, ch_mult 1,1,2,2,4, 2 res blocks, attention at 16,
emb 256, codebook 1024; structure and keys per the spec, random weights), saves it as vqgan_*.th (ae.*),
times encode (encoder + nearest code) and decode (embedding + generator) of a batch, and the peak memory
of decoding one 64x64-token grid (1024 px) in a fresh process. Prints JSON."""
import json, resource, subprocess, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

NF, MULT, NRES, ATTN, EMB, K, RES = 128, [1, 1, 2, 2, 4], 2, [16], 256, 1024, 256


def norm(c):
    return nn.GroupNorm(32, c, eps=1e-6, affine=True)


class Res(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.i, self.o = i, o
        self.norm1, self.conv1, self.norm2, self.conv2 = norm(i), nn.Conv2d(i, o, 3, 1, 1), norm(o), nn.Conv2d(o, o, 3, 1, 1)
        self.conv_out = nn.Conv2d(i, o, 1)

    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return (self.conv_out(x) if self.i != self.o else x) + h


class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = norm(c)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        h = self.norm(x)
        b, c, hh, ww = x.shape
        w = F.softmax(torch.bmm(self.q(h).reshape(b, c, -1).permute(0, 2, 1), self.k(h).reshape(b, c, -1)) * c ** -0.5, dim=2)
        return x + self.proj_out(torch.bmm(self.v(h).reshape(b, c, -1), w.permute(0, 2, 1)).reshape(b, c, hh, ww))


class Down(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Up(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def encoder_blocks():
    blocks, res, in_mult = [nn.Conv2d(3, NF, 3, 1, 1)], RES, [1] + MULT
    for i in range(len(MULT)):
        bi, bo = NF * in_mult[i], NF * MULT[i]
        for _ in range(NRES):
            blocks.append(Res(bi, bo)); bi = bo
            if res in ATTN: blocks.append(Attn(bi))
        if i != len(MULT) - 1: blocks.append(Down(bi)); res //= 2
    return blocks + [Res(bi, bi), Attn(bi), Res(bi, bi), norm(bi), nn.Conv2d(bi, EMB, 3, 1, 1)]


def generator_blocks():
    bi, res = NF * MULT[-1], RES // 2 ** (len(MULT) - 1)
    blocks = [nn.Conv2d(EMB, bi, 3, 1, 1), Res(bi, bi), Attn(bi), Res(bi, bi)]
    for i in reversed(range(len(MULT))):
        bo = NF * MULT[i]
        for _ in range(NRES):
            blocks.append(Res(bi, bo)); bi = bo
            if res in ATTN: blocks.append(Attn(bi))
        if i != 0: blocks.append(Up(bi)); res *= 2
    return blocks + [norm(bi), nn.Conv2d(bi, 3, 3, 1, 1)]


class Stack(nn.Module):
    def __init__(self, blocks, logsigma=False):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        if logsigma:
            self.logsigma = nn.Sequential(nn.Conv2d(NF, NF, 3, 1, 1), nn.ReLU(), nn.Conv2d(NF, 3, 1))

    def forward(self, x):
        for b in self.blocks: x = b(x)
        return x


class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.generator = Stack(encoder_blocks()), Stack(generator_blocks(), True)
        self.quantize = nn.Module()
        self.quantize.embedding = nn.Embedding(K, EMB)

    def encode(self, x):
        z = self.encoder(x)
        zf = z.permute(0, 2, 3, 1).reshape(-1, EMB)
        e = self.quantize.embedding.weight
        return ((zf ** 2).sum(1, keepdim=True) + (e ** 2).sum(1) - 2 * zf @ e.t()).argmin(1).view(x.shape[0], -1)

    def decode(self, ids):
        return self.generator(F.embedding(ids, self.quantize.embedding.weight).permute(0, 3, 1, 2))


if sys.argv[1] == "--decode-memory":
    torch.set_num_threads(int(sys.argv[3]))
    ae = AE().eval()
    ae.load_state_dict({k[3:]: v for k, v in torch.load(sys.argv[2]).items()})
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        t = time.perf_counter()
        ae.decode(torch.randint(0, K, (1, 64, 64)))
        ms = (time.perf_counter() - t) * 1000
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024, "ms": ms}))
    sys.exit(0)

ckpt, threads, batch, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
ae = AE().eval()
torch.save({"ae." + k: v for k, v in ae.state_dict().items()}, ckpt)
out = {}
with torch.no_grad():
    x = torch.rand(batch, 3, RES, RES)
    ids = torch.randint(0, K, (batch, 16, 16))
    for name, fn in (("encode", lambda: ae.encode(x)), ("decode", lambda: ae.decode(ids))):
        fn()
        t = time.perf_counter()
        for _ in range(reps): fn()
        out[name + "_ips"] = batch * reps / (time.perf_counter() - t)
mem = subprocess.run([sys.executable, __file__, "--decode-memory", ckpt, str(threads)], capture_output=True, text=True, check=True)
out.update({"decode64_" + k: v for k, v in json.loads(mem.stdout.strip().splitlines()[-1]).items()})
print(json.dumps(out))
