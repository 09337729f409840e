"""The reference benchmark (ld_gpt.py bench) on a CUDA GPU, for the GPU side of `npm run bench`'s
table (engine/bench/gpu-bench.sh). Same model, init, optimizer, batches and timing as ld_gpt.py's
`bench`, except: every tensor on the GPU, and a torch.cuda.synchronize() before each clock read
(CUDA launches are asynchronous; without it the timings would measure only the launches).
float32 throughout (TF32 off, as torch's default for matmuls), like our engine.

usage: python3 torch-gpu-bench.py --ref PATH/ld_gpt.py --text FILE [--shape NAME:B,T,C,H,L ...]
prints one JSON line per shape, in the format of ld_gpt.py bench.
"""
import argparse
import importlib.util
import json
import time

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_init import reference_bench_init  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--shape", action="append", required=True, help="name:batch,block,embd,head,layer")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("ld_gpt", a.ref)
    ld = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ld)
    torch.set_default_device("cuda")  # ld_gpt.py makes some tensors (torch.arange) with no device
    torch.backends.cuda.matmul.allow_tf32 = False
    text = open(a.text, encoding="utf-8").read()
    vocab = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(vocab)}
    data = torch.tensor([stoi[ch] for ch in text])
    for sh in a.shape:
        name, dims = sh.split(":")
        B, T, C, H, L = (int(v) for v in dims.split(","))
        torch.manual_seed(0)
        c = {"vocabSize": len(vocab), "blockSize": T, "nEmbd": C, "nHead": H, "nLayer": L}
        model = ld.GPT(c)
        reference_bench_init(model)
        opt = torch.optim.AdamW(ld.adamw_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95))

        def batch():
            ix = torch.randint(len(data) - T - 1, (B,))
            return (torch.stack([data[i:i + T] for i in ix]), torch.stack([data[i + 1:i + T + 1] for i in ix]))

        times = []
        for s in range(a.warmup + a.steps):
            x, y = batch()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            _, _, _, _, l = model.loss(x, y, 0.01, 0.01)
            opt.zero_grad(set_to_none=True)
            l.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            torch.cuda.synchronize()
            if s >= a.warmup:
                times.append(time.perf_counter() - t0)
        train_tps = B * T / float(np.median(times))
        times = []
        with torch.no_grad():
            for s in range(a.warmup + a.steps):
                x, _ = batch()
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                model(x)
                masks = [d.mask for _, d in model.dropouts()]
                _ = [m.mean().item() for m in masks]
                torch.cuda.synchronize()
                if s >= a.warmup:
                    times.append(time.perf_counter() - t0)
        infer_tps = B * T / float(np.median(times))
        print(json.dumps({"shape": name, "impl": "pytorch-" + torch.__version__ + "-" + torch.cuda.get_device_name(0),
                          "threads": 1, "config": c, "batch": B, "trainTokensPerSec": round(train_tps, 1),
                          "inferTokensPerSec": round(infer_tps, 1), "lastLoss": round(l.item(), 4)}), flush=True)


if __name__ == "__main__":
    main()
