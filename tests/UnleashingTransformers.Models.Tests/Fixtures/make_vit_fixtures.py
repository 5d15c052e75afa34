"""DiT and UViT prior denoisers written in PyTorch from their papers (DiT: adaLN-Zero blocks; UViT: time as a
token, long skips; both on patches of the token grid, time = the share of tokens masked), with random non-zero
weights everywhere (adaLN-Zero's zeros would hide the modulation paths), their state dicts, inputs and
logits, for VitBackboneTests to reproduce.
Usage: make_vit_fixtures.py OUT_DIR"""
import json
import math
import sys

import torch
import torch.nn as nn

K, E, HEADS, LAYERS, H, W, P = 12, 32, 4, 2, 4, 6, 2


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.key, self.query, self.value, self.proj = (nn.Linear(E, E) for _ in range(4))

    def forward(self, x):
        b, t, c = x.shape
        split = lambda y: y.view(b, t, HEADS, c // HEADS).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = (q @ k.transpose(-2, -1) / math.sqrt(c // HEADS)).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, c))


def mlp():
    return nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(), nn.Linear(4 * E, E))


def patchify(x, b):
    return x.view(b, H // P, P, W // P, P, E).permute(0, 1, 3, 2, 4, 5).reshape(b, H * W // (P * P), P * P * E)


def unpatchify(y, b):
    return y.view(b, H // P, W // P, P, P, K).permute(0, 1, 3, 2, 4, 5).reshape(b, H * W, K)


def share_masked(idx):
    return (idx == K).float().mean(1) * 1000


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(E, eps=1e-6, elementwise_affine=False)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(E, eps=1e-6, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(approximate="tanh"), nn.Linear(4 * E, E))   # DiT's tanh GELU
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(E, 6 * E))

    def forward(self, x, c):
        s1, sc1, g1, s2, sc2, g2 = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g1.unsqueeze(1) * self.attn(modulate(self.norm1(x), s1, sc1))
        return x + g2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), s2, sc2))


class Final(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm_final = nn.LayerNorm(E, eps=1e-6, elementwise_affine=False)
        self.linear = nn.Linear(E, P * P * K)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(E, 2 * E))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class TimeEmbedder(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, E), nn.SiLU(), nn.Linear(E, E))

    def forward(self, t):
        freqs = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float32) / 128)
        args = t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class DiT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(K + 1, E)
        self.x_embedder = nn.Linear(P * P * E, E)
        self.pos_emb = nn.Parameter(torch.zeros(1, H * W // (P * P), E))
        self.t_embedder = TimeEmbedder()
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.final_layer = Final()

    def forward(self, idx):
        b = idx.shape[0]
        c = self.t_embedder(share_masked(idx))
        x = self.x_embedder(patchify(self.tok_emb(idx), b)) + self.pos_emb
        for block in self.blocks:
            x = block(x, c)
        return unpatchify(self.final_layer(x, c), b)


class UvitBlock(nn.Module):
    def __init__(self, skip):
        super().__init__()
        self.skip_linear = nn.Linear(2 * E, E) if skip else None
        self.ln1, self.attn, self.ln2, self.mlp = nn.LayerNorm(E), Attention(), nn.LayerNorm(E), mlp()

    def forward(self, x, skip=None):
        if self.skip_linear is not None:
            x = self.skip_linear(torch.cat([x, skip], dim=-1))
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class UViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(K + 1, E)
        self.x_embedder = nn.Linear(P * P * E, E)
        self.time_embed = TimeEmbedder()
        self.pos_emb = nn.Parameter(torch.zeros(1, 1 + H * W // (P * P), E))
        self.in_blocks = nn.ModuleList(UvitBlock(False) for _ in range(LAYERS // 2))
        self.mid_block = UvitBlock(False)
        self.out_blocks = nn.ModuleList(UvitBlock(True) for _ in range(LAYERS // 2))
        self.norm = nn.LayerNorm(E)
        self.decoder_pred = nn.Linear(E, P * P * K)

    def forward(self, idx):
        b = idx.shape[0]
        t = self.time_embed(share_masked(idx)).unsqueeze(1)
        x = torch.cat([t, self.x_embedder(patchify(self.tok_emb(idx), b))], dim=1) + self.pos_emb
        skips = []
        for block in self.in_blocks:
            x = block(x)
            skips.append(x)
        x = self.mid_block(x)
        for block in self.out_blocks:
            x = block(x, skips.pop())
        return unpatchify(self.decoder_pred(self.norm(x))[:, 1:], b)


out = sys.argv[1]
torch.manual_seed(0)
idx = torch.randint(0, K, (3, H * W))
idx[1, ::2] = K          # half masked
idx[2, :] = K            # all masked
for name, model in (("dit", DiT()), ("uvit", UViT())):
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
        logits = model(idx)
    torch.save(model.state_dict(), f"{out}/{name}.pt")
    torch.save({"idx": idx, "logits": logits}, f"{out}/{name}_io.pt")
json.dump({"codebook": K, "emb": E, "heads": HEADS, "layers": LAYERS, "grid": [H, W], "patch": P}, open(out + "/vit.json", "w"))
