"""A small TorchScript feature network for `ut eval --features` tests: `forward(x, return_features=False)`
returns 16 features per image (with the flag) or one score, like the TorchScript Inception's interface.
Usage: make_feature_net.py OUT.pt"""
import sys

import torch


class Features(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.head = torch.nn.Linear(16, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        h = torch.tanh(self.conv2(torch.relu(self.conv1(x))))
        f = torch.cat([h.mean(dim=[2, 3]), h.std(dim=[2, 3])], dim=1)[:, :16]
        if return_features:
            return f * 10   # spread out, so the figures are not all near zero
        return self.head(f)


torch.manual_seed(0)
torch.jit.script(Features().eval()).save(sys.argv[1])
