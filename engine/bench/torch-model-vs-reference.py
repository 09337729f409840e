"""The torch backend's model (ldtorch.model.GPT) against the reference's (ld_gpt.GPT), timed the
reference's way (median step: forward with both penalties, backward, clipping, AdamW; `small`
shape, random tokens), to tell the model's cost from the worker loop's overhead.
Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 engine/bench/torch-model-vs-reference.py [--threads N] [--rounds R]
"""
import argparse, os, statistics, sys, time

import torch
import torch.nn.functional as F

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(root, "engine/torch"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "../shared/reference"))
import ld_gpt as R  # noqa: E402
import ldtorch.model as L  # noqa: E402
from bench_init import reference_bench_init as init  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--rounds", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
shape = {"vocabSize": 65, "blockSize": 128, "nEmbd": 128, "nHead": 4, "nLayer": 4}
dropout = {"kind": "learned", "detachInput": True, "sharpen": False, "rounding": "none", "entropy": {"form": "shannon"}}


def tokens_per_sec(model, loss_fn, steps=15, warmup=3):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95))
    times = []
    for i in range(warmup + steps):
        x, y = torch.randint(0, 65, (32, 128)), torch.randint(0, 65, (32, 128))
        t0 = time.perf_counter()
        loss = loss_fn(model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return 32 * 128 / statistics.median(times)


def ours_loss(m, x, y):
    logits = m(x)
    H, L1 = m.penalties()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)) + 0.01 * H + 0.01 * L1


torch.manual_seed(0)
ref, ours = init(R.GPT(shape)), init(L.GPT(shape, dropout))
print(f"threads {a.threads}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
for r in range(a.rounds):
    print(f"round {r + 1}: reference {tokens_per_sec(ref, lambda m, x, y: m.loss(x, y, 0.01, 0.01)[4]):,.0f} tok/s, ldtorch {tokens_per_sec(ours, ours_loss):,.0f} tok/s")
