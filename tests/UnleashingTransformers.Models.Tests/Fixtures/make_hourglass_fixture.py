"""SUNDAE-VQGAN's hourglass prior network (HourglassTransformerLM: rotary positions, linear resampling of 2-D blocks,
attention resampling, non-causal, unconditional) written in plain PyTorch from a reading of the reference, since
einops and rotary-embedding-torch are not packaged here. The block rearranges are written as loops over
positions, on purpose: they check our reading of the einops patterns, not a copy of our reshapes. Saves the
network's state dict as the reference does (net.state_dict(), its keys, no prefix), an input and its logits.
Usage: make_hourglass_fixture.py OUT_DIR"""
import json
import math
import sys

import torch
import torch.nn as nn

K, DIM, HEADS, DIM_HEAD, SIDE, SHORTEN, DEPTH = 16, 32, 2, 16, 8, 4, (1, 2, 1)
R = int(math.sqrt(SHORTEN))


class RotaryEmbedding(nn.Module):
    """freqs_for='pixel': pi * linspace(1, max_freq / 2, dim / 2), each repeated for an interleaved pair."""

    def __init__(self, dim, max_freq):
        super().__init__()
        self.freqs = nn.Parameter(torch.linspace(1.0, max_freq / 2, dim // 2) * math.pi, requires_grad=False)

    def forward(self, t):
        return (t[:, None] * self.freqs[None, :]).repeat_interleave(2, dim=-1)


def rotate_half(x):
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rotary_emb(freqs, t):
    rot = freqs.shape[-1]
    head, rest = t[..., :rot], t[..., rot:]
    return torch.cat((head * freqs.cos() + rotate_half(head) * freqs.sin(), rest), dim=-1)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        inner = HEADS * DIM_HEAD
        self.to_q = nn.Linear(DIM, inner, bias=False)
        self.to_kv = nn.Linear(DIM, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, DIM)

    def forward(self, x, context=None, pos_emb=None):
        q = self.to_q(x)
        k, v = self.to_kv(x if context is None else context).chunk(2, dim=-1)
        if pos_emb is not None and context is None:
            # rotated on the (h, w) grid before the heads split, as the reference does
            w = int(math.sqrt(q.shape[1]))
            q = apply_rotary_emb(pos_emb, q.reshape(q.shape[0], w, w, -1)).reshape(q.shape)
            k = apply_rotary_emb(pos_emb, k.reshape(k.shape[0], w, w, -1)).reshape(k.shape)
        split = lambda t: t.reshape(t.shape[0], t.shape[1], HEADS, DIM_HEAD).transpose(1, 2)
        q, k, v = split(q) * DIM_HEAD ** -0.5, split(k), split(v)
        out = (q @ k.transpose(-2, -1)).softmax(-1) @ v
        return self.to_out(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], HEADS * DIM_HEAD))


class PreNormResidual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.norm = nn.LayerNorm(DIM)
        self.fn = fn

    def forward(self, x, **kwargs):
        return self.fn(self.norm(x), **kwargs) + x


class Transformer(nn.Module):
    def __init__(self, depth, max_seq_len=256):
        super().__init__()
        ff = lambda: nn.Sequential(nn.Linear(DIM, DIM * 4), nn.GELU(), nn.Dropout(0.0), nn.Linear(DIM * 4, DIM))
        self.layers = nn.ModuleList([nn.ModuleList([PreNormResidual(Attention()), PreNormResidual(ff())]) for _ in range(depth)])
        self.rotary_pos_emb = RotaryEmbedding(DIM_HEAD // 2, int(math.sqrt(max_seq_len)))

    def forward(self, x, context=None):
        w = int(math.sqrt(x.shape[1]))
        fh = self.rotary_pos_emb(torch.linspace(-1, 1, steps=w))
        fw = self.rotary_pos_emb(torch.linspace(-1, 1, steps=w))
        pos = torch.cat((fh[:, None, :].expand(w, w, -1), fw[None, :, :].expand(w, w, -1)), dim=-1)
        for attn, ff in self.layers:
            x = attn(x, context=context, pos_emb=pos)
            x = ff(x)
        return x


def merge_blocks(x):
    """'b (h w) d -> b h w d', then 'b (h sh) (w sw) d -> b h w (d sh sw)', by positions."""
    b, n, d = x.shape
    side = int(math.sqrt(n))
    out = torch.zeros(b, side // R, side // R, d * R * R)
    for i in range(side // R):
        for j in range(side // R):
            for a in range(R):
                for c in range(R):
                    for dd in range(d):
                        out[:, i, j, dd * R * R + a * R + c] = x[:, (i * R + a) * side + j * R + c, dd]
    return out


def split_blocks(y):
    """'b h w (d sh sw) -> b (h sh) (w sw) d', then 'b h w d -> b (h w) d', by positions."""
    b, h, w, dk = y.shape
    d = dk // (R * R)
    out = torch.zeros(b, h * R * w * R, d)
    for i in range(h):
        for j in range(w):
            for a in range(R):
                for c in range(R):
                    for dd in range(d):
                        out[:, (i * R + a) * (w * R) + j * R + c, dd] = y[:, i, j, dd * R * R + a * R + c]
    return out


class LinearDownsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(DIM * SHORTEN, DIM)

    def forward(self, x):
        y = self.proj(merge_blocks(x))
        return y.reshape(y.shape[0], -1, DIM)


class LinearUpsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(DIM, DIM * SHORTEN)

    def forward(self, x):
        side = int(math.sqrt(x.shape[1]))
        return split_blocks(self.proj(x.reshape(x.shape[0], side, side, DIM)))


class HourglassTransformer(nn.Module):
    def __init__(self, max_seq_len):
        super().__init__()
        pre, valley, post = DEPTH
        self.downsample = LinearDownsample()
        self.upsample = LinearUpsample()
        self.valley_transformer = Transformer(valley, max_seq_len // SHORTEN)
        self.attn_resampling_pre_valley = Transformer(1)
        self.attn_resampling_post_valley = Transformer(1)
        self.pre_transformer = Transformer(pre)
        self.post_transformer = Transformer(post)
        self.norm_out = nn.LayerNorm(DIM)

    def forward(self, x):
        s, b, n = SHORTEN, x.shape[0], x.shape[1]
        x = self.pre_transformer(x)
        residual = x.clone()
        down = self.downsample(x)
        # attention resampling groups s consecutive raster tokens under each shortened token, as the reference does
        down = self.attn_resampling_pre_valley(down.reshape(b * n // s, 1, DIM), x.reshape(b * n // s, s, DIM)).reshape(b, n // s, DIM)
        x = self.valley_transformer(down)
        valley = x.clone()
        x = self.upsample(x) + residual
        x = self.attn_resampling_post_valley(x.reshape(b * n // s, s, DIM), valley.reshape(b * n // s, 1, DIM)).reshape(b, n, DIM)
        return self.norm_out(self.post_transformer(x))


class HourglassTransformerLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_emb = nn.Embedding(K, DIM)
        self.transformer = HourglassTransformer(SIDE * SIDE)
        self.to_logits = nn.Linear(DIM, K)

    def forward(self, idx):
        return self.to_logits(self.transformer(self.token_emb(idx)))


def main(out):
    torch.manual_seed(0)
    net = HourglassTransformerLM()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.requires_grad:
                p.normal_(0, 0.2)   # norms and biases too: defaults of ones and zeros would hide their paths
    idx = torch.randint(0, K, (3, SIDE * SIDE))
    with torch.no_grad():
        logits = net(idx)
    torch.save(net.state_dict(), f"{out}/hourglass.pt")
    torch.save({"idx": idx, "logits": logits}, f"{out}/hourglass_io.pt")
    with open(f"{out}/hourglass.json", "w") as f:
        json.dump({"codebook": K, "dim": DIM, "heads": HEADS, "dim_head": DIM_HEAD, "side": SIDE, "shorten": SHORTEN, "depth": DEPTH}, f)


if __name__ == "__main__":
    main(sys.argv[1])
