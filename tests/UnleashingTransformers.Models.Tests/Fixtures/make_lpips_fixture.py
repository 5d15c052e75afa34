#!/usr/bin/python3
"""LPIPS-VGG with the lpips package's module layout and keys (random weights; the pretrained ones cannot
be downloaded here), under "perceptual." as reference VQ-GAN checkpoints carry it, and its value on two
images. Usage: make_lpips_fixture.py OUT_DIR. Run with Debian's python3-torch."""
import json, os, sys
import torch
import torch.nn as nn

torch.manual_seed(5)
out = sys.argv[1]
cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
layers, c = [], 3
for v in cfg:
    if v == "M":
        layers.append(nn.MaxPool2d(2, 2))
    else:
        layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
        c = v


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        for k, (a, b) in enumerate([(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]):
            s = nn.Sequential()
            for i in range(a, b):
                s.add_module(str(i), layers[i])
            setattr(self, f"slice{k + 1}", s)

    def forward(self, x):
        outs = []
        for k in range(5):
            x = getattr(self, f"slice{k + 1}")(x)
            outs.append(x)
        return outs


class Lin(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(0.0), nn.Conv2d(c, 1, 1, bias=False))


class LPIPS(nn.Module):
    def __init__(self):
        super().__init__()
        self.scaling_layer = nn.Module()
        self.scaling_layer.register_buffer("shift", torch.tensor([-.030, -.088, -.188])[None, :, None, None])
        self.scaling_layer.register_buffer("scale", torch.tensor([.458, .448, .450])[None, :, None, None])
        self.net = Net()
        for k, ch in enumerate([64, 128, 256, 512, 512]):
            setattr(self, f"lin{k}", Lin(ch))
        self.lins = nn.ModuleList([getattr(self, f"lin{k}") for k in range(5)])

    def forward(self, a, b):
        norm = lambda x: x / (torch.sqrt(torch.sum(x ** 2, dim=1, keepdim=True)) + 1e-10)
        sa = (a - self.scaling_layer.shift) / self.scaling_layer.scale
        sb = (b - self.scaling_layer.shift) / self.scaling_layer.scale
        total = 0
        for k, (fa, fb) in enumerate(zip(self.net(sa), self.net(sb))):
            total = total + self.lins[k].model((norm(fa) - norm(fb)) ** 2).mean([2, 3], keepdim=True)
        return total


m = LPIPS().eval()
with torch.no_grad():
    for lin in m.lins:
        lin.model[1].weight.uniform_(0, 0.1)  # LPIPS lin weights are non-negative
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    value = m(a, b)
torch.save({f"perceptual.{k}": v for k, v in m.state_dict().items()}, os.path.join(out, "lpips.th"))
torch.save({"a": a, "b": b}, os.path.join(out, "lpips_inputs.pt"))
json.dump({"value": value.flatten().tolist()}, open(os.path.join(out, "lpips.json"), "w"))
print("ok")
