"""Parity cases for dropout.rounding, generated with the PyTorch reference model.

The reference (shared/reference/ld_gpt.py) is imported, not copied: its GPT, its starting weights
(fixtures/tiny/weights.safetensors) and its batch, with each LearnedDropout's forward extended by
the engine's rounding:

    straight-through:  y = x * [m >= 0.5]              backward: dy/dm as for y = x * m
    stochastic:        y = x * [u < m], u = noise(seed, site salt, element index)   (training)

The soft mask m stays what the penalties and the statistics read. noise() is the engine's
maskNoise (engine/src/ops/maskRounding.ts): murmur3's finalizer of a counter, 24 bits.

    /usr/bin/python3 engine/test/reference/rounding_fixtures.py [SHARED_REFERENCE_DIR] [OUT_DIR]
"""
import json
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../../shared/reference")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "../fixtures/rounding")
sys.path.insert(0, REF)
import ld_gpt  # noqa: E402

M32 = 0xFFFFFFFF
SEED = 987654321


def noise(seed, salt, n):
    """The engine's maskNoise: uniform in [0, 1) from (seed, salt, index), 24 bits."""
    s = (seed ^ (((salt + 1) * 0x9E3779B9) & M32)) & M32
    i = np.arange(n, dtype=np.uint64)
    z = (np.uint64(s) + i * np.uint64(0x85EBCA6B)) & np.uint64(M32)
    z ^= z >> np.uint64(16)
    z = (z * np.uint64(0x7FEB352D)) & np.uint64(M32)
    z ^= z >> np.uint64(15)
    z = (z * np.uint64(0x846CA68B)) & np.uint64(M32)
    z ^= z >> np.uint64(16)
    return torch.from_numpy(((z >> np.uint64(8)).astype(np.float64) / 16777216.0).astype(np.float32))


class StraightThrough(torch.autograd.Function):
    """Forward the hard mask exactly; pass the gradient to the soft mask unchanged."""

    @staticmethod
    def forward(ctx, soft, hard):
        return hard.clone()

    @staticmethod
    def backward(ctx, g):
        return g, None


def rounded_forward(self, x):
    n = x.shape[-1]
    m = 0.5 * torch.cos(self.A[:n] * x.detach() + self.B[:n]) + 0.5
    self.mask = m
    if self.rounding == "straight-through":
        hard = (m >= 0.5).to(m.dtype)
    else:
        u = noise(SEED, self.salt, m.numel()).view(m.shape)
        hard = (u < m).to(m.dtype)
    return x * StraightThrough.apply(m, hard)


def case(rounding, spec, weights):
    model = ld_gpt.GPT(spec["model"])
    model.load_state_dict({k: weights[k] for k in model.named_weights()}, strict=True)
    # the engine's site salts: 0 for transformer.drop, 4i+1, 4i+2, 4i+3 for layer i's three sites
    salts = [0] + [4 * i + j for i in range(spec["model"]["nLayer"]) for j in (1, 2, 3)]
    for (name, d), salt in zip(model.dropouts(), salts):
        d.rounding, d.salt = rounding, salt
        d.forward = types.MethodType(rounded_forward, d)
    idx, tgt = torch.tensor(spec["idx"]), torch.tensor(spec["targets"])
    logits, ce, H, L1, loss = model.loss(idx, tgt, spec["lambdaEntropy"], spec["lambdaL1"])
    loss.backward()
    out = {"logits": logits}
    for name, d in model.dropouts():
        out["mask:" + name] = d.mask
    for n, p in model.named_parameters():
        out["grad:" + n] = p.grad
    os.makedirs(os.path.join(OUT, rounding), exist_ok=True)
    ld_gpt.save_safetensors(os.path.join(OUT, rounding, "forward.safetensors"), out)
    return {"crossEntropy": ce.item(), "entropy": H.item(), "l1": L1.item(), "loss": loss.item()}


def main():
    spec = json.load(open(os.path.join(REF, "fixtures/tiny/case.json")))
    weights = ld_gpt.load_safetensors(os.path.join(REF, "fixtures/tiny/weights.safetensors"))
    expected = {r: case(r, spec, weights) for r in ("straight-through", "stochastic")}
    with open(os.path.join(OUT, "case.json"), "w") as f:
        json.dump({
            "about": "dropout.rounding parity: the reference's tiny case (its weights, batch and lambdas, "
                     "shared/reference/fixtures/tiny) with rounded masks; <rounding>/forward.safetensors holds "
                     "the logits, the soft masks and every gradient. Written by rounding_fixtures.py.",
            "seed": SEED, "expected": expected,
            "noiseCheck": noise(SEED, 5, 4).tolist(),
        }, f, indent=1)
    print(f"wrote {OUT}: " + ", ".join(f"{r} loss {e['loss']:.6f}" for r, e in expected.items()))


if __name__ == "__main__":
    main()
