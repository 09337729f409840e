"""The run folder, written exactly as the engine writes it (engine/src/checkpoint.ts):

    RUN/run.json, RUN/config.json, RUN/metrics.jsonl
    RUN/checkpoints/step-000100/{model.safetensors, optimizer.safetensors, config.json, state.json}

Every file is written to a temporary name, fsynced and renamed; a checkpoint folder is assembled
under .tmp-step-… and renamed into place, so a crash leaves the previous checkpoint whole.
"""
import json
import os
import random
import shutil
import time

import torch

from . import safetensors


class CheckpointError(Exception):
    pass


def write_atomic(path, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.{random.getrandbits(40):010x}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def js_json(o):
    """JSON as JSON.stringify writes it (no spaces), so files diff cleanly between engines."""
    return json.dumps(o, separators=(",", ":"), allow_nan=False)


def read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing ({what})")
    except ValueError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e}); {what}")


class RunFolder:
    def __init__(self, run_dir):
        self.dir = run_dir
        self.metrics_path = os.path.join(run_dir, "metrics.jsonl")

    def read_meta(self):
        return read_json(os.path.join(self.dir, "run.json"), "not a LearnedDropout run")

    def write_meta(self, meta):
        write_atomic(os.path.join(self.dir, "run.json"), json.dumps(meta, indent=1, ensure_ascii=False) + "\n")

    def append_metric(self, rec):
        """One whole line, appended with O_APPEND in as few write() calls as the OS allows (one for
        any line it accepts whole), so that the engine's own appends (the report records it adds
        after a checkpoint) never land inside one of ours."""
        data = (js_json(rec) + "\n").encode("utf-8")
        fd = os.open(self.metrics_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def checkpoints(self):
        """Complete checkpoints (step, dir), oldest first."""
        root = os.path.join(self.dir, "checkpoints")
        out = []
        if os.path.isdir(root):
            for name in os.listdir(root):
                if not name.startswith("step-"):
                    continue
                try:
                    with open(os.path.join(root, name, "state.json")) as f:
                        out.append((json.load(f)["step"], os.path.join(root, name)))
                except (OSError, ValueError, KeyError):
                    pass  # damaged: skipped, as listCheckpoints does
        return sorted(out)

    def save_checkpoint(self, step, shape, config, tokenizer, weights, m, v, opt_step, rng, best, val):
        """weights, m, v: ordered (name, tensor) pairs in the engine's parameter order."""
        root = os.path.join(self.dir, "checkpoints")
        os.makedirs(root, exist_ok=True)
        name = f"step-{step:06d}"
        tmp = os.path.join(root, f".tmp-{name}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.mkdir(tmp)
        write_atomic(os.path.join(tmp, "model.safetensors"), safetensors.encode(weights, {"format": "pt", "step": str(step)}))
        opt = [("m." + n, t) for n, t in m] + [("v." + n, t) for n, t in v]
        write_atomic(os.path.join(tmp, "optimizer.safetensors"), safetensors.encode(opt, {"step": str(opt_step)}))
        write_atomic(os.path.join(tmp, "config.json"), js_json({"model": shape, "tokenizer": tokenizer, "config": config, "step": step}) + "\n")
        write_atomic(os.path.join(tmp, "state.json"), js_json({"step": step, "rng": rng, "bestValLoss": best, "valLoss": val}) + "\n")
        final = os.path.join(root, name)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)  # the checkpoint appears whole or not at all
        return {"runDir": self.dir, "dir": final, "step": step, "time": iso_now(), "valLoss": val}


def load_checkpoint(ckpt_dir, names):
    """Weights, AdamW moments, optimizer step and state.json of a checkpoint written by either engine."""
    state = read_json(os.path.join(ckpt_dir, "state.json"), "cannot resume from it")
    if not isinstance(state.get("step"), int) or not isinstance(state.get("rng"), list) or len(state["rng"]) != 4:
        raise CheckpointError(f"{ckpt_dir}/state.json: step or rng state missing; cannot resume from it")
    try:
        weights, _ = safetensors.load(os.path.join(ckpt_dir, "model.safetensors"))
        opt, meta = safetensors.load(os.path.join(ckpt_dir, "optimizer.safetensors"))
    except FileNotFoundError as e:
        raise CheckpointError(f"{e.filename} is missing; cannot resume from {ckpt_dir}")
    except safetensors.SafetensorsError as e:
        raise CheckpointError(f"cannot resume: {e}")
    missing = [n for n in names if n not in weights or ("m." + n) not in opt or ("v." + n) not in opt]
    if missing:
        raise CheckpointError(f"{ckpt_dir}: no weights or optimizer state for {', '.join(missing[:5])}")
    for n in names:
        if not torch.isfinite(weights[n]).all():
            raise CheckpointError(f"{ckpt_dir}/model.safetensors: {n} holds NaN or infinite values")
    return {
        "weights": {n: weights[n] for n in names},
        "m": {n: opt["m." + n] for n in names},
        "v": {n: opt["v." + n] for n in names},
        "optStep": int(meta.get("step", state["step"])),
        "state": state,
    }


def iso_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
