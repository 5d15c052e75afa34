"""Recomputes what `ut eval --features` reported, independently: the features from the image files (PIL,
then PyTorch's bilinear resize and the network), and FID (scipy.linalg.sqrtm), KID (the unbiased cubic-kernel
MMD) and precision/recall/density/coverage (Naeem et al. 2020) with numpy from ut's saved features.
Usage: check_features.py NET.pt REAL_DIR SIZE LOW HIGH FEATURES_DIR K  ->  one JSON object."""
import glob
import json
import sys

import numpy as np
import scipy.linalg
import torch
from PIL import Image

net_path, real_dir, size, low, high, features_dir, k = sys.argv[1:8]
size, low, high, k = int(size), float(low), float(high), int(k)

net = torch.jit.load(net_path)
files = sorted(glob.glob(real_dir + "/*.png"))
images = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1) for f in files])
with torch.no_grad():
    x = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    ours_real = net(x * (high - low) + low, return_features=True).double().numpy()

real = np.load(features_dir + "/real.npy")
fake = np.load(features_dir + "/fake.npy")


def fid(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a.dot(s_b)).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


def kid(x, y):  # one subset of every row (both sets the same size)
    m, d = x.shape
    within = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
    between = (x @ y.T / d + 1) ** 3
    return float((within.sum() - np.diag(within).sum()) / (m * (m - 1)) - 2 * between.sum() / (m * m))


def distances(a, b):
    return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0))


def radii(a):
    return np.sort(distances(a, a), axis=1)[:, k]


def prdc(real, fake):
    r_radii, f_radii = radii(real), radii(fake)
    d = distances(real, fake)
    return {
        "precision": float((d < r_radii[:, None]).any(axis=0).mean()),
        "recall": float((d < f_radii[None, :]).any(axis=1).mean()),
        "density": float((d < r_radii[:, None]).sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < r_radii).mean()),
    }


print(json.dumps({"featuresFromImages": float(np.abs(ours_real - real).max()), "rows": len(files),
                  "fid": fid(fake, real), "kid": kid(fake, real), **prdc(real, fake)}))
