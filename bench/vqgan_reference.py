#!/usr/bin/python3
"""The reference VQ-GAN autoencoder in Debian's PyTorch, for bench `vqgan`.
Usage: vqgan_reference.py CHECKPOINT_OUT THREADS BATCH REPS
Builds the full reference autoencoder (256 px, nf 128, ch_mult 1,1,2,2,4, 2 res blocks, attention at 16,
emb 256, codebook 1024; structure and keys per the spec, random weights), saves it as vqgan_*.th (ae.*),
times encode (encoder + nearest code) and decode (embedding + generator) of a batch, and the peak memory
of decoding one 64x64-token grid (1024 px) in a fresh process. Prints JSON."""
import json, os, resource, subprocess, sys, time
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unleashing_reference import AE  # noqa: E402 (copied next to this script from reference/)

K, RES = 1024, 256


if sys.argv[1] == "--decode-memory":
    torch.set_num_threads(int(sys.argv[3]))
    ae = AE().eval()
    ae.load_state_dict({k[3:]: v for k, v in torch.load(sys.argv[2]).items()})
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        t = time.perf_counter()
        ae.decode(torch.randint(0, K, (1, 64, 64)))
        ms = (time.perf_counter() - t) * 1000
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024, "ms": ms}))
    sys.exit(0)

ckpt, threads, batch, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
ae = AE().eval()
torch.save({"ae." + k: v for k, v in ae.state_dict().items()}, ckpt)
out = {}
with torch.no_grad():
    x = torch.rand(batch, 3, RES, RES)
    ids = torch.randint(0, K, (batch, 16, 16))
    for name, fn in (("encode", lambda: ae.encode(x)), ("decode", lambda: ae.decode(ids))):
        fn()
        t = time.perf_counter()
        for _ in range(reps): fn()
        out[name + "_ips"] = batch * reps / (time.perf_counter() - t)
mem = subprocess.run([sys.executable, __file__, "--decode-memory", ckpt, str(threads)], capture_output=True, text=True, check=True)
out.update({"decode64_" + k: v for k, v in json.loads(mem.stdout.strip().splitlines()[-1]).items()})
print(json.dumps(out))
