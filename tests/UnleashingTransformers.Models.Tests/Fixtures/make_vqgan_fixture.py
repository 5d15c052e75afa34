#!/usr/bin/python3
"""A tiny VQ-GAN with the reference's module structure and state-dict keys (written from
shared/reference/unleashing-spec.md section 2), plus what PyTorch computes with it: the decode of given
tokens and the tokens of a given image. Run with Debian's python3-torch: /usr/bin/python3 make_vqgan_fixture.py"""
import json, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../reference"))
from unleashing_reference import AE, Disc, VQGAN  # noqa: E402

torch.manual_seed(3)
here = os.path.dirname(os.path.abspath(__file__))
RES, NF, MULT, NRES, ATTN, EMB, K = 16, 32, [1, 1, 2], 1, [4], 32, 16


m = VQGAN(AE(RES, NF, MULT, NRES, ATTN, EMB, K), Disc(ndf=8)).eval()
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
