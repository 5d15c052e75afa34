"""NAT Diffuser's prior network (justin4ai/NAT-Diffuser, models/transformer.py at its last commit, 471a4c0:
Transformer with Hydra1DNeighborhoodAttention) written in plain PyTorch from a reading of it, since natten and
rotary-embedding-torch are not packaged here. natten's fused na1d is replaced by full attention under a mask built
from NATTEN's own window rule (get_window_start), written out here on purpose apart from our gather; the rotary
embedding is rotary-embedding-torch's RotaryEmbedding(dim=32) for language. As their code: rotary on queries and
keys (not values, since 6215f4a), pos_emb added (their `use_hydar_na` typo leaves it on), the head groups'
outputs (B, T, heads/groups, hs) joined with torch.cat(dim=1) and reshaped to (B, T, C), rpb and start_tok built
but unused.

make OUT_DIR: saves the network's bare state dict (nat_diffuser.pt), a sampler checkpoint as their train_sampler
saves it (absorbing_nat_diffuser.th: _denoise_fn.* and the three history buffers), and an input with its logits.
check FILE IO: loads FILE (ours) into this module with strict=True, prints the largest |difference| between its
logits on IO's idx and IO's logits.
"""
import math
import sys

import torch
import torch.nn as nn

K, EMB, HEADS, LAYERS, SIDE, KERNEL, DILATIONS = 16, 384, 8, 2, 16, 7, [1, 4, 8, 16]
T = SIDE * SIDE


class RotaryEmbedding(nn.Module):
    def __init__(self, dim, theta=10000):
        super().__init__()
        freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
        self.freqs = nn.Parameter(freqs, requires_grad=False)

    def rotate_queries_or_keys(self, t):
        seq = torch.arange(t.shape[-2], dtype=self.freqs.dtype)
        freqs = torch.einsum("i,f->if", seq, self.freqs).repeat_interleave(2, dim=-1)   # '... n -> ... (n r)', r=2
        rot = freqs.shape[-1]
        middle, right = t[..., :rot], t[..., rot:]
        pairs = middle.reshape(*middle.shape[:-1], -1, 2)
        half = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return torch.cat((middle * freqs.cos() + half * freqs.sin(), right), dim=-1)


def window_start(index, length, kernel_size, dilation):
    ns = kernel_size // 2
    if dilation <= 1:
        return max(index - ns, 0) + (index + ns >= length) * (length - index - ns - 1)
    ni = index - ns * dilation
    if ni < 0:
        return index % dilation
    if index + ns * dilation >= length:
        imodd = index % dilation
        a = (length // dilation) * dilation
        b = length - a
        if imodd < b:
            return length - b + imodd - 2 * ns * dilation
        return a + imodd - kernel_size * dilation
    return ni


def na1d(q, k, v, kernel_size, dilation):
    """(B, L, heads, D) each, as natten's fused na1d; default scale D^-0.5."""
    L = q.shape[1]
    mask = torch.zeros(L, L, dtype=torch.bool)
    for i in range(L):
        s = window_start(i, L, kernel_size, dilation)
        for j in range(kernel_size):
            mask[i, s + j * dilation] = True
    assert int(mask.sum()) == L * kernel_size
    qh, kh, vh = (x.permute(0, 2, 1, 3) for x in (q, k, v))
    att = (qh @ kh.transpose(-2, -1)) * q.shape[-1] ** -0.5
    att = att.masked_fill(~mask, float("-inf")).softmax(-1)
    return (att @ vh).permute(0, 2, 1, 3)


class Hydra1DNeighborhoodAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.key = nn.Linear(EMB, EMB)
        self.query = nn.Linear(EMB, EMB)
        self.value = nn.Linear(EMB, EMB)
        self.proj = nn.Linear(EMB, EMB)
        self.n_head = HEADS
        self.dilations = DILATIONS
        self.kernel_sizes = [KERNEL] * len(DILATIONS)
        self.num_splits = len(self.kernel_sizes)
        self.rpb = nn.ParameterList([nn.Parameter(torch.zeros(HEADS // self.num_splits + 1, 2 * k - 1, 2 * k - 1)) for k in self.kernel_sizes])
        self.rotary_emb = RotaryEmbedding(dim=32)

    def forward(self, x):
        B, T_, C = x.size()
        k = self.key(x).view(B, T_, self.n_head, C // self.n_head).transpose(1, 2)
        q = self.query(x).view(B, T_, self.n_head, C // self.n_head).transpose(1, 2)
        v = self.value(x).view(B, T_, self.n_head, C // self.n_head).transpose(1, 2)
        q, k, v = q.chunk(self.num_splits, dim=1), k.chunk(self.num_splits, dim=1), v.chunk(self.num_splits, dim=1)
        q = (self.rotary_emb.rotate_queries_or_keys(_q) for _q in q)
        k = (self.rotary_emb.rotate_queries_or_keys(_k) for _k in k)
        attention = [na1d(_q.permute(0, 2, 1, 3), _k.permute(0, 2, 1, 3), _v.permute(0, 2, 1, 3), ks, d)
                     for _q, _k, _v, ks, d in zip(q, k, v, self.kernel_sizes, self.dilations)]
        y = torch.cat(attention, dim=1)
        y = y.reshape(B, T_, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(EMB)
        self.ln2 = nn.LayerNorm(EMB)
        self.attn = Hydra1DNeighborhoodAttention()
        self.mlp = nn.Sequential(nn.Linear(EMB, 4 * EMB), nn.GELU(), nn.Linear(4 * EMB, EMB), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(K + 1, EMB)
        self.pos_emb = nn.Parameter(torch.zeros(1, T, EMB))
        self.start_tok = nn.Parameter(torch.zeros(1, 1, EMB))
        self.blocks = nn.Sequential(*[Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(EMB)
        self.head = nn.Linear(EMB, K, bias=False)

    def forward(self, idx):
        x = self.tok_emb(idx) + self.pos_emb[:, : idx.shape[1], :]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def make(out):
    torch.manual_seed(31)
    net = Transformer()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if not name.endswith("rotary_emb.freqs"):
                p.normal_(0, 0.1 if p.dim() > 1 else 0.3)
    net.eval()
    idx = torch.randint(0, K + 1, (2, T))
    idx[0, :100] = K   # a masked stretch
    with torch.no_grad():
        logits = net(idx)
    torch.save(net.state_dict(), f"{out}/nat_diffuser.pt")
    sampler = {f"_denoise_fn.{k}": v for k, v in net.state_dict().items()}
    for name in ("Lt_history", "Lt_count", "loss_history"):
        sampler[name] = torch.zeros(257)
    torch.save(sampler, f"{out}/absorbing_nat_diffuser.th")
    torch.save({"idx": idx, "logits": logits}, f"{out}/nat_diffuser_io.pt")


def check(path, io_path):
    sd = torch.load(path)
    sd = {k[len("_denoise_fn."):]: v for k, v in sd.items() if k.startswith("_denoise_fn.")} or sd
    net = Transformer()
    net.load_state_dict(sd, strict=True)
    net.eval()
    io = torch.load(io_path)
    with torch.no_grad():
        print(float((net(io["idx"]) - io["logits"]).abs().max()))


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2], sys.argv[3])
