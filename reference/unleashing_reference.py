"""The reference's module structures in PyTorch, written from shared/reference/unleashing-spec.md
(sections 2 and 3), with the reference's state-dict keys. Used by the scripts that make the tests'
fixtures and by the benchmarks' PyTorch side; run with Debian's python3-torch."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- absorbing prior (section 3) ----

class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.key, self.query, self.value, self.proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x).view(B, T, self.heads, C // self.heads).transpose(1, 2)
        q = self.query(x).view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = self.value(x).view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = F.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1))), dim=-1)
        return self.proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Denoiser(nn.Module):
    def __init__(self, codebook, d, heads, layers, block, pos_std):
        super().__init__()
        self.tok_emb = nn.Embedding(codebook + 1, d)
        self.pos_emb = nn.Parameter(torch.randn(1, block, d) * pos_std)
        self.start_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.drop = nn.Dropout(0.0)
        self.blocks = nn.Sequential(*[Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, codebook, bias=False)

    def forward(self, idx):
        x = self.drop(self.tok_emb(idx) + self.pos_emb[:, :idx.shape[1]])
        return self.head(self.ln_f(self.blocks(x)))


class Absorbing(nn.Module):
    """The sampler checkpoint's layout: _denoise_fn.* plus the T + 1 bookkeeping buffers."""

    def __init__(self, codebook, d, heads, layers, block, timesteps, pos_std=0.02, random_history=False):
        super().__init__()
        self._denoise_fn = Denoiser(codebook, d, heads, layers, block, pos_std)
        self.register_buffer("Lt_history", torch.rand(timesteps + 1) if random_history else torch.zeros(timesteps + 1))
        self.register_buffer("Lt_count", torch.zeros(timesteps + 1))
        self.register_buffer("loss_history", torch.zeros(timesteps + 1))


# ---- VQ-GAN (section 2) ----

def norm(c):
    return nn.GroupNorm(32, c, eps=1e-6, affine=True)


class Res(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.i, self.o = i, o
        self.norm1, self.conv1 = norm(i), nn.Conv2d(i, o, 3, 1, 1)
        self.norm2, self.conv2 = norm(o), nn.Conv2d(o, o, 3, 1, 1)
        self.conv_out = nn.Conv2d(i, o, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_out(x) if self.i != self.o else x) + h


class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = norm(c)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        h = self.norm(x)
        b, c, hh, ww = x.shape
        q = self.q(h).reshape(b, c, hh * ww).permute(0, 2, 1)
        k = self.k(h).reshape(b, c, hh * ww)
        w = F.softmax(torch.bmm(q, k) * c ** -0.5, dim=2)
        v = self.v(h).reshape(b, c, hh * ww)
        return x + self.proj_out(torch.bmm(v, w.permute(0, 2, 1)).reshape(b, c, hh, ww))


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


class Encoder(nn.Module):
    def __init__(self, res, nf, mult, nres, attn, emb):
        super().__init__()
        blocks, in_mult = [nn.Conv2d(3, nf, 3, 1, 1)], [1] + mult
        for i in range(len(mult)):
            bi, bo = nf * in_mult[i], nf * mult[i]
            for _ in range(nres):
                blocks.append(Res(bi, bo)); bi = bo
                if res in attn: blocks.append(Attn(bi))
            if i != len(mult) - 1:
                blocks.append(Down(bi)); res //= 2
        blocks += [Res(bi, bi), Attn(bi), Res(bi, bi), norm(bi), nn.Conv2d(bi, emb, 3, 1, 1)]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        for b in self.blocks: x = b(x)
        return x


class Generator(nn.Module):
    def __init__(self, res, nf, mult, nres, attn, emb):
        super().__init__()
        bi, res = nf * mult[-1], res // 2 ** (len(mult) - 1)
        blocks = [nn.Conv2d(emb, bi, 3, 1, 1), Res(bi, bi), Attn(bi), Res(bi, bi)]
        for i in reversed(range(len(mult))):
            bo = nf * mult[i]
            for _ in range(nres):
                blocks.append(Res(bi, bo)); bi = bo
                if res in attn: blocks.append(Attn(bi))
            if i != 0:
                blocks.append(Up(bi)); res *= 2
        blocks += [norm(bi), nn.Conv2d(bi, 3, 3, 1, 1)]
        self.blocks = nn.ModuleList(blocks)
        self.logsigma = nn.Sequential(nn.Conv2d(bi, bi, 3, 1, 1), nn.ReLU(), nn.Conv2d(bi, 3, 1))

    def forward(self, x):
        for b in self.blocks: x = b(x)
        return x


class Quantize(nn.Module):
    def __init__(self, codebook, emb):
        super().__init__()
        self.embedding = nn.Embedding(codebook, emb)

    def ids(self, z):
        zf = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        e = self.embedding.weight
        return ((zf ** 2).sum(1, keepdim=True) + (e ** 2).sum(1) - 2 * zf @ e.t()).argmin(1).view(z.shape[0], -1)


class AE(nn.Module):
    """The autoencoder, saved as ae.* in reference VQ-GAN files."""

    def __init__(self, res=256, nf=128, mult=(1, 1, 2, 2, 4), nres=2, attn=(16,), emb=256, codebook=1024):
        super().__init__()
        mult, attn = list(mult), list(attn)
        self.encoder = Encoder(res, nf, mult, nres, attn, emb)
        self.quantize = Quantize(codebook, emb)
        self.generator = Generator(res, nf, mult, nres, attn, emb)

    def encode(self, x):
        return self.quantize.ids(self.encoder(x))

    def decode(self, ids):
        return self.generator(F.embedding(ids, self.quantize.embedding.weight).permute(0, 3, 1, 2))


class Disc(nn.Module):
    """PatchGAN with 3 layers (section 2.6)."""

    def __init__(self, ndf=64):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf * 4, ndf * 8, 4, 1, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf * 8, 1, 4, 1, 1))


class VQGAN(nn.Module):
    def __init__(self, ae, disc):
        super().__init__()
        self.ae, self.disc = ae, disc
