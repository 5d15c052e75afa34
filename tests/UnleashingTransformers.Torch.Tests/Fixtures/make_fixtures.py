#!/usr/bin/python3
"""Writes the PyTorch-made fixtures the binding's tests load (run with Debian's python3-torch 1.13:
/usr/bin/python3 make_fixtures.py). Expected values go to expected.json beside them, computed by
PyTorch, so the tests compare the binding against PyTorch rather than against numbers typed in."""
import collections, json, os
import torch

torch.manual_seed(1234)
here = os.path.dirname(os.path.abspath(__file__))
expected = {}


class Tiny(torch.nn.Module):
    """Parameters, buffers and nesting: keys like PyTorch modules produce them."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)
        self.norm = torch.nn.LayerNorm(3)
        self.bn = torch.nn.BatchNorm2d(2)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(3, 3, bias=False) for _ in range(2)])


m = Tiny()
m.bn.running_mean.add_(torch.tensor([0.5, -0.25]))
m.bn.num_batches_tracked.add_(7)
sd = m.state_dict()
assert hasattr(sd, "_metadata")
torch.save(sd, os.path.join(here, "state_dict.pt"))
expected["state_dict"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "values": v.flatten().tolist()}
                          for k, v in sd.items()}

# Strided views sharing one storage: a transpose and an offset narrow.
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
views = {"t": base.t(), "narrow": base[1:, 1:3], "base": base}
torch.save(views, os.path.join(here, "strided.pt"))
expected["strided"] = {k: {"shape": list(v.shape), "values": v.flatten().tolist()} for k, v in views.items()}

# A latent cache as the reference writes it: int64 (N, L), row-major ids.
latents = torch.randint(0, 1024, (5, 16), dtype=torch.int64)
torch.save(latents, os.path.join(here, "latents_int64.pt"))
expected["latents"] = {"shape": list(latents.shape), "values": latents.flatten().tolist()}

# Reduced-precision and other dtypes.
mixed = collections.OrderedDict(
    half=torch.randn(2, 3).half(),
    bf16=torch.randn(4).bfloat16(),
    mask=torch.tensor([True, False, True]),
    bytes=torch.arange(250, 256, dtype=torch.uint8),
)
torch.save(mixed, os.path.join(here, "mixed_dtypes.pt"))
expected["mixed"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "values": v.float().flatten().tolist()}
                     for k, v in mixed.items()}

# A forward pass to compare ops against: linear -> exact GELU -> layer norm -> log-softmax,
# plus conv2d + group norm + nearest upsampling.
x = torch.randn(2, 5, 4)
w = torch.randn(6, 4)
b = torch.randn(6)
y = torch.nn.functional.log_softmax(
    torch.nn.functional.layer_norm(torch.nn.functional.gelu(torch.nn.functional.linear(x, w, b)), (6,), eps=1e-5), -1)
img = torch.randn(1, 4, 5, 5)
cw = torch.randn(8, 4, 3, 3)
cb = torch.randn(8)
z = torch.nn.functional.interpolate(
    torch.nn.functional.group_norm(torch.nn.functional.conv2d(img, cw, cb, stride=1, padding=1), 2, eps=1e-6),
    scale_factor=2.0, mode="nearest")
torch.save({"x": x, "w": w, "b": b, "img": img, "cw": cw, "cb": cb}, os.path.join(here, "forward_inputs.pt"))
expected["forward"] = {"y_shape": list(y.shape), "y": y.flatten().tolist(), "z_shape": list(z.shape),
                       "z": z.flatten().tolist()}

# Adam: three steps from a known start; the binding's Adam must match PyTorch's.
p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
opt = torch.optim.Adam([p], lr=0.1, weight_decay=0.01)
for i in range(3):
    opt.zero_grad()
    loss = ((p - torch.tensor([0.5, 0.5, 0.5])) ** 2).sum() * (i + 1)
    loss.backward()
    opt.step()
expected["adam"] = {"start": [1.0, -2.0, 3.0], "target": 0.5, "lr": 0.1, "weight_decay": 0.01,
                    "after": p.detach().tolist()}
torch.save(opt.state_dict(), os.path.join(here, "adam_state.pt"))

# More ops against PyTorch: conv2d with stride, dilation and groups; embedding; bilinear resize;
# batch norm in training (output and updated running statistics); cross entropy with ignore_index.
F = torch.nn.functional
cimg = torch.randn(2, 4, 9, 9)
gw = torch.randn(6, 2, 3, 3)
gb = torch.randn(6)
conv = F.conv2d(cimg, gw, gb, stride=2, padding=2, dilation=2, groups=2)
emb_w = torch.randn(10, 3)
ids = torch.tensor([[1, 9, 0], [4, 4, 2]])
emb = F.embedding(ids, emb_w)
bil = F.interpolate(cimg, size=(5, 7), mode="bilinear", align_corners=False)
rm, rv = torch.zeros(4), torch.ones(4)
bn_w, bn_b = torch.randn(4), torch.randn(4)
bn = F.batch_norm(cimg, rm, rv, bn_w, bn_b, training=True, momentum=0.1, eps=1e-5)
logits = torch.randn(6, 5)
labels = torch.tensor([0, 4, -100, 2, 2, -100])
ce = F.cross_entropy(logits, labels, ignore_index=-100)
torch.save({"cimg": cimg, "gw": gw, "gb": gb, "emb_w": emb_w, "ids": ids, "logits": logits, "labels": labels,
            "bn_w": bn_w, "bn_b": bn_b},
           os.path.join(here, "more_inputs.pt"))
expected["more"] = {k: {"shape": list(v.shape), "values": v.flatten().tolist()} for k, v in
                    {"conv": conv, "emb": emb, "bil": bil, "bn": bn, "rm": rm, "rv": rv, "ce": ce}.items()}

with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump(expected, f)
print("fixtures written")
