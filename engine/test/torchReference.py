"""The torch backend's model, penalties, loss and optimizer groups (engine/torch/ldtorch) against the
PyTorch reference's parity fixtures (shared/reference/fixtures/tiny): logits, masks, loss terms, every
gradient, and five AdamW steps with warmup + cosine and clipping. Run by engine/test/torch.test.ts:
    python3 torchReference.py FIXTURE_DIR   (with engine/torch on PYTHONPATH)
Prints the largest norm-wise relative error of each, as JSON."""
import json, sys, torch
from ldtorch.model import GPT
from ldtorch.safetensors import load
from ldtorch.train import make_optimizers, lr_at
fx = sys.argv[1]
case = json.load(open(f"{fx}/case.json"))
w, _ = load(f"{fx}/weights.safetensors"); exp, _ = load(f"{fx}/forward.safetensors"); after, _ = load(f"{fx}/after-5-steps.safetensors")
shape = case["model"]
d = {"kind": "learned", "detachInput": True, "sharpen": False, "rate": 0.1, "entropy": {"form": "shannon"}, "abLr": None, "abOptimizer": "adamw"}
m = GPT(shape, d); m.load_state_dict({k: w[k] for k in dict(m.named_parameters())})
idx, tgt = torch.tensor(case["idx"]), torch.tensor(case["targets"])
rel = lambda a, b: float((a - b).norm() / b.norm().clamp_min(1e-30))
loss, ce, H, L1 = m.loss(idx, tgt, case["lambdaEntropy"], case["lambdaL1"])
loss.backward()
out = {"logits": rel(m(idx).detach(), exp["logits"])}
m.zero_grad(); loss, ce, H, L1 = m.loss(idx, tgt, case["lambdaEntropy"], case["lambdaL1"]); loss.backward()
out["masks"] = max(rel(s.mask.detach(), exp["mask:" + n]) for n, s in m.learned_sites())
out["grads"] = max(rel(p.grad, exp["grad:" + n]) for n, p in m.named_parameters())
e = case["expected"]
out["terms"] = max(abs(a.item() - e[k]) / abs(e[k]) for a, k in ((ce, "crossEntropy"), (H, "entropy"), (L1, "l1"), (loss, "loss")))
o = case["optimizer"]
t = {"lr": o["lr"], "weightDecay": o["weightDecay"], "betas": o["betas"], "eps": o["eps"]}
opts = make_optimizers(m, t, d)
m.load_state_dict({k: w[k] for k in dict(m.named_parameters())})
losses = []
for step in range(5):
    lr = lr_at(step, o["lr"], o["minLr"], o["warmupSteps"], o["decaySteps"])
    for op in opts:
        for g in op.param_groups: g["lr"] = lr * g["lr_scale"]
        op.zero_grad(set_to_none=True)
    l = m.loss(idx, tgt, case["lambdaEntropy"], case["lambdaL1"])[0]; l.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), o["gradClip"])
    for op in opts: op.step()
    losses.append(l.item())
out["trainLosses"] = max(abs(a - b) / abs(b) for a, b in zip(losses, case["trainLosses"]))
out["after5"] = max(rel(p.detach(), after[n]) for n, p in m.named_parameters())
print(json.dumps(out))
