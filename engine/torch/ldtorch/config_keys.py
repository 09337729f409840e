"""The config keys (common/config.ts) this worker implements, and the values it knows for the
keys that name a mode. A config with any other key, or another mode, is refused before training
(by the engine when it prepares a torch run, and again by the worker itself), never ignored.

    python -m ldtorch.config_keys < config.json    # prints {"problems": [...]}
"""
import json
import sys

ANY = None
SUPPORTED = {
    "model.vocabSize": ANY, "model.blockSize": ANY, "model.nEmbd": ANY, "model.nHead": ANY, "model.nLayer": ANY,
    "dropout.kind": ("learned", "standard", "none"),
    "dropout.rate": ANY,
    "dropout.aInit.mean": ANY, "dropout.aInit.std": ANY, "dropout.bInit.mean": ANY, "dropout.bInit.std": ANY,
    "dropout.detachInput": ANY,
    "dropout.entropy.enabled": ANY, "dropout.entropy.form": ("shannon", "complement"),
    "dropout.entropy.schedule.max": ANY, "dropout.entropy.schedule.min": ANY, "dropout.entropy.schedule.rate": ANY,
    "dropout.l1.enabled": ANY,
    "dropout.l1.schedule.max": ANY, "dropout.l1.schedule.min": ANY, "dropout.l1.schedule.rate": ANY,
    "dropout.sharpen": ANY,
    "dropout.rounding": ("none", "straight-through", "stochastic"),
    "dropout.abLr": ANY, "dropout.abLrMode": ("scaled", "constant"), "dropout.abOptimizer": ("adamw", "sgd"),
    "train.steps": ANY, "train.batchSize": ANY, "train.gradAccum": ANY, "train.microBatch": ANY,
    "train.lr": ANY, "train.minLr": ANY, "train.warmupSteps": ANY, "train.decaySteps": ANY,
    "train.betas": ANY, "train.eps": ANY, "train.weightDecay": ANY, "train.gradClip": ANY,
    "train.evalInterval": ANY, "train.evalBatches": ANY, "train.evalValTokens": ANY,
    "train.checkpointInterval": ANY, "train.statsInterval": ANY, "train.valFraction": ANY, "train.seed": ANY,
    "train.precision": ("fp32", "tf32", "bf16"), "train.compile": ANY,
    "tokenizer": ANY,
}


def _leaves(o, prefix=""):
    for k, v in o.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v:
            yield from _leaves(v, path)
        else:
            yield path, v


def problems(config):
    """One sentence per key or mode of `config` this worker does not implement (empty: all fine)."""
    out = []
    if not isinstance(config, dict):
        return ["the config is not an object"]
    for path, value in _leaves(config):
        if path not in SUPPORTED:
            out.append(f"{path}: this torch worker does not implement it (train on the TypeScript engine, or update ldtorch)")
        elif SUPPORTED[path] is not ANY and value not in SUPPORTED[path]:
            out.append(f"{path}: {json.dumps(value)} is not implemented by this torch worker ({', '.join(SUPPORTED[path])})")
    return out


def main():
    try:
        config = json.load(sys.stdin)
    except ValueError as e:
        print(json.dumps({"problems": [f"the config is not valid JSON: {e}"]}))
        return 1
    print(json.dumps({"problems": problems(config)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
