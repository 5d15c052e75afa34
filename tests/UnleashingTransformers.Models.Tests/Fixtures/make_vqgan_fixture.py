#!/usr/bin/python3
"""A tiny VQ-GAN with the reference's module structure and state-dict keys (written from
shared/reference/unleashing-spec.md section 2), plus what PyTorch computes with it: the decode of given
tokens and the tokens of a given image. Run with Debian's python3-torch: /usr/bin/python3 make_vqgan_fixture.py"""
import json, os
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)
here = os.path.dirname(os.path.abspath(__file__))
RES, NF, MULT, NRES, ATTN, EMB, K = 16, 32, [1, 1, 2], 1, [4], 32, 16


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
    def __init__(self):
        super().__init__()
        blocks, res, in_mult = [nn.Conv2d(3, NF, 3, 1, 1)], RES, [1] + MULT
        for i in range(len(MULT)):
            bi, bo = NF * in_mult[i], NF * MULT[i]
            for _ in range(NRES):
                blocks.append(Res(bi, bo)); bi = bo
                if res in ATTN: blocks.append(Attn(bi))
            if i != len(MULT) - 1:
                blocks.append(Down(bi)); res //= 2
        blocks += [Res(bi, bi), Attn(bi), Res(bi, bi), norm(bi), nn.Conv2d(bi, EMB, 3, 1, 1)]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        for b in self.blocks: x = b(x)
        return x


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        bi, res = NF * MULT[-1], RES // 2 ** (len(MULT) - 1)
        blocks = [nn.Conv2d(EMB, bi, 3, 1, 1), Res(bi, bi), Attn(bi), Res(bi, bi)]
        for i in reversed(range(len(MULT))):
            bo = NF * MULT[i]
            for _ in range(NRES):
                blocks.append(Res(bi, bo)); bi = bo
                if res in ATTN: blocks.append(Attn(bi))
            if i != 0:
                blocks.append(Up(bi)); res *= 2
        blocks += [norm(bi), nn.Conv2d(bi, 3, 3, 1, 1)]
        self.blocks = nn.ModuleList(blocks)
        self.logsigma = nn.Sequential(nn.Conv2d(bi, bi, 3, 1, 1), nn.ReLU(), nn.Conv2d(bi, 3, 1))

    def forward(self, x):
        for b in self.blocks: x = b(x)
        return x


class Quantize(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(K, EMB)

    def ids(self, z):
        zf = z.permute(0, 2, 3, 1).reshape(-1, EMB)
        d = (zf ** 2).sum(1, keepdim=True) + (self.embedding.weight ** 2).sum(1) - 2 * zf @ self.embedding.weight.t()
        return d.argmin(1).view(z.shape[0], -1)


class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.quantize, self.generator = Encoder(), Quantize(), Generator()


class Disc(nn.Module):
    def __init__(self, ndf=8):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf * 4, ndf * 8, 4, 1, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2),
                                  nn.Conv2d(ndf * 8, 1, 4, 1, 1))


class VQGAN(nn.Module):
    def __init__(self):
        super().__init__()
        self.ae, self.disc = AE(), Disc()


m = VQGAN().eval()
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, nn.GroupNorm):
            mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
    m.ae.quantize.embedding.weight.normal_(0, 1)  # well-separated codes: encoding is not decided by rounding
sd = m.state_dict()
sd["perceptual.scaling_layer.shift"] = torch.zeros(1, 3, 1, 1)  # reference files carry LPIPS weights; ignored
torch.save(sd, os.path.join(here, "vqgan_tiny.th"))

with torch.no_grad():
    tokens = torch.randint(0, K, (2, 4, 4))
    decoded = m.ae.generator(F.embedding(tokens, m.ae.quantize.embedding.weight).permute(0, 3, 1, 2))
    image = torch.rand(1, 3, RES, RES)
    ids = m.ae.quantize.ids(m.ae.encoder(image))
torch.save({"image": image}, os.path.join(here, "vqgan_tiny_inputs.pt"))
json.dump({"tokens": tokens.flatten().tolist(), "decoded_shape": list(decoded.shape), "decoded": decoded.flatten().tolist(),
           "encoded": ids.flatten().tolist(), "codebook": K}, open(os.path.join(here, "vqgan_tiny.json"), "w"))
print("vqgan fixture written", sum(p.numel() for p in m.ae.parameters()), "autoencoder parameters")
