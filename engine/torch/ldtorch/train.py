"""The training loop of the torch backend: `python -m ldtorch.train --job RUN/torch/job.json`
(or under torchrun, one process per device). Step for step the TypeScript trainer's loop
(engine/src/train/trainingRun.ts): the same batches (the same sfc32 stream), λ schedules, learning-rate
schedule, clipping, AdamW groups, metric records, evaluation, mask statistics and checkpoints.

The engine prepares RUN/torch/job.json, RUN/torch/{train,val}.bin and (fresh runs) the initial
weights; this process trains and reports on stdout, one JSON object per line:

    {"type": "started", ...}  {"type": "metric", "record": ...}  {"type": "progress", ...}
    {"type": "checkpoint", "checkpoint": ...}  {"type": "log", ...}  {"type": "ended", "status": ...}

It stops (checkpoint first) on a {"type": "stop"} line on stdin, on the file RUN/torch/stop,
on SIGTERM or SIGINT, and, when supervised, when its stdin closes (the engine has gone).
Under torchrun, rank 0 writes the run folder; every rank draws the whole global batch from the
shared stream and trains on its own slice of rows, and DDP averages the gradients, so the
update is the single process's.
"""
import argparse
import json
import math
import os
import signal
import sys
import threading
import time

import torch
import torch.nn.functional as F

from . import config_keys, runfolder
from .model import GPT, parameter_shapes
from .rng import Rng
from .safetensors import load as load_safetensors

STUCK_FRACTION = 0.99
STUCK_AFTER_STEPS = 100
STUCK_ADVICE = {
    "one": "it drops nothing (B near 0 with a small A is a stationary point, ∂m/∂B = −½·sin(B + A·x) ≈ 0: initialize B near π/2 with dropout.bInit, or raise the penalties)",
    "zero": "it drops nearly everything (lower the L1 penalty, dropout.l1.schedule)",
    "half": "its values sit between 0.1 and 0.9: \"active\" (m ≥ 0.5) thresholds undecided values (raise the entropy penalty, or try dropout.rounding)",
}


def stuck_at(s):
    """Where a site's masks are stuck (train/maskStats.ts stuckAt): 'one', 'zero', 'half' or None."""
    if s["fracHigh"] > STUCK_FRACTION:
        return "one"
    if s["fracLow"] > STUCK_FRACTION:
        return "zero"
    if s["fracLow"] + s["fracHigh"] < 1 - STUCK_FRACTION:
        return "half"
    return None


class TrainError(Exception):
    """A problem with the run's inputs, reported as one sentence (no traceback)."""


# ----------------------------------------------------------------------------- reporting

class Events:
    def __init__(self, enabled):
        self.enabled = enabled
        self.lock = threading.Lock()

    def send(self, type_, **kw):
        if not self.enabled:
            return
        line = json.dumps({"type": type_, **kw}, separators=(",", ":"))
        with self.lock:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, OSError):
                # the engine is gone: keep training to the stop its closed stdin asked for, and
                # write the run folder as usual, which is what it would read
                self.enabled = False

    def log(self, level, message):
        self.send("log", level=level, message=message)


# ----------------------------------------------------------------------------- schedules

def lr_at(step, lr, min_lr, warmup, decay):
    """Linear warmup, then cosine from lr to min_lr until `decay` (config.ts lrAt)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= decay:
        return min_lr
    r = (step - warmup) / max(1, decay - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * r)) * (lr - min_lr)


def lambda_at(s, step):
    """λ(step) = min(exp(rate·step) + min − 1, max) (config.ts lambdaAt)."""
    return min(math.exp(s["rate"] * step) + s["min"] - 1, s["max"])


# ----------------------------------------------------------------------------- data

def load_tokens(path, dtype):
    """Token ids the engine wrote (little-endian uint16 or uint32), as an int64 tensor."""
    try:
        with open(path, "rb") as f:
            buf = bytearray(f.read())
    except OSError as e:
        raise TrainError(f"cannot read the token file {path}: {e.strerror}")
    width = {"uint16": 2, "uint32": 4}.get(dtype)
    if width is None:
        raise TrainError(f"unknown token dtype {dtype!r} (uint16 or uint32)")
    if len(buf) % width:
        raise TrainError(f"{path}: {len(buf)} bytes is not a whole number of {dtype} tokens; the file is damaged")
    if not buf:
        return torch.zeros(0, dtype=torch.int64)
    # torch < 2.3 has no uint16/uint32: read signed, then mask back to unsigned
    t = torch.frombuffer(buf, dtype=torch.int16 if width == 2 else torch.int32).to(torch.int64)
    return t & (0xFFFF if width == 2 else 0xFFFFFFFF)


def draw_batch(data, B, T, rng):
    """B random windows, as Dataset.batch: start i uniform in [0, len − T), y = x shifted by one."""
    starts = len(data) - T
    if starts < 1:
        raise TrainError(f"a split has {len(data)} tokens, but one window of blockSize {T} needs {T + 1}")
    ix = torch.tensor([rng.int(starts) for _ in range(B)], dtype=torch.int64)
    offs = ix[:, None] + torch.arange(T)
    return data[offs], data[offs + 1]


# ----------------------------------------------------------------------------- mask statistics

SITE_KINDS = {"drop": "embedding", "attn_dropout": "attention", "resid_dropout": "attentionOutput", "dropout": "mlp"}


def site_stats(name, mod, shape):
    """One SiteStats of protocol.ts from the site's last mask (attention: causal entries only)."""
    m = mod.mask.detach().float()
    kind = SITE_KINDS[name.split(".")[-1]]
    layer = int(name.split(".")[2]) if name.startswith("transformer.h.") else -1
    if kind == "attention":
        T = m.shape[-1]
        vals = m[..., torch.tril(torch.ones(T, T, dtype=torch.bool, device=m.device))]
        rows = m.numel() // T
        units = shape["nHead"] * shape["blockSize"]
    else:
        vals = m.reshape(-1)
        units = shape["nEmbd"]
        rows = m.numel() // units
    n = vals.numel()
    sums = torch.stack([vals.double().sum(), (vals < 0.1).sum().double(), (vals > 0.9).sum().double(), (vals >= 0.5).sum().double()]).tolist()
    A, B = mod.A.detach().double(), mod.B.detach().double()
    pstd = lambda t: ((t - t.mean()) ** 2).mean().sqrt()  # population std, as the engine's (std's arguments changed across torch versions)
    ab = torch.stack([A.mean(), pstd(A), B.mean(), pstd(B)]).tolist()
    return {"site": name, "layer": layer, "kind": kind, "units": units, "meanMask": sums[0] / n, "fracLow": sums[1] / n,
            "fracHigh": sums[2] / n, "meanActive": sums[3] / rows, "aMean": ab[0], "aStd": ab[1], "bMean": ab[2], "bStd": ab[3]}


# ----------------------------------------------------------------------------- optimizer

def make_optimizers(model, t, d):
    """AdamW with decay on ≥ 2-D weights only; A/B their own group (own rate, AdamW or SGD), as makeOptimizer.
    Each group's lr is set every step to the schedule's lr × its lr_scale, or to its fixed_lr."""
    decay, rest, ab = [], [], []
    for n, p in model.named_parameters():
        (ab if n.endswith(".A") or n.endswith(".B") else decay if p.dim() >= 2 else rest).append(p)
    ab_scale = 1.0 if d["abLr"] is None else d["abLr"] / t["lr"]
    # abLrMode constant: A/B at abLr every step, off the schedule (optim.ts ParamGroup.fixedLr)
    ab_fixed = d["abLr"] if d["abLr"] is not None and d.get("abLrMode", "scaled") == "constant" else None
    adam_groups = [{"params": decay, "weight_decay": t["weightDecay"], "lr_scale": 1.0, "fixed_lr": None},
                   {"params": rest, "weight_decay": 0.0, "lr_scale": 1.0, "fixed_lr": None}]
    opts = []
    if ab and d["abOptimizer"] == "sgd":
        opts.append(torch.optim.SGD([{"params": ab, "lr_scale": ab_scale, "fixed_lr": ab_fixed}], lr=t["lr"]))
    elif ab:
        adam_groups.append({"params": ab, "weight_decay": 0.0, "lr_scale": ab_scale, "fixed_lr": ab_fixed})
    opts.insert(0, torch.optim.AdamW(adam_groups, lr=t["lr"], betas=tuple(t["betas"]), eps=t["eps"]))
    return opts


# ----------------------------------------------------------------------------- the trainer

def pick_device(want):
    if want in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if want == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"the job asks for CUDA but this torch ({torch.__version__}) sees no CUDA device (set the job's device to auto or cpu)")
    if want == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise TrainError("the job asks for Apple MPS but this torch sees no MPS device")
    return want


class Trainer:
    def __init__(self, job_path, events, rank=0, world=1, local_rank=0):
        self.events, self.rank, self.world = events, rank, world
        with open(job_path, encoding="utf-8") as f:
            job = json.load(f)
        self.job = job
        # paths in the job are relative to the run folder (RUN/torch/job.json), so a run folder
        # copied to a cluster's shared filesystem still trains there
        self.run_dir = os.path.abspath(job.get("runDir") or os.path.join(os.path.dirname(os.path.abspath(job_path)), ".."))
        at = lambda p: p if os.path.isabs(p) else os.path.join(self.run_dir, p)
        self.stop_file = os.path.join(self.run_dir, "torch", "stop")
        self.folder = runfolder.RunFolder(self.run_dir)
        saved = runfolder.read_json(os.path.join(self.run_dir, "config.json"), "the run cannot be trained")
        # the job's config is the engine's upgraded one (keys added since an older run, at their defaults)
        self.shape, self.tokenizer, self.config = saved["model"], saved["tokenizer"], job.get("config") or saved["config"]
        unsupported = config_keys.problems(self.config)
        if unsupported:
            raise TrainError("the run's config asks for what this torch worker does not implement: " + "; ".join(unsupported))
        t = self.config["train"]
        if job.get("steps") is not None:
            t["steps"] = job["steps"]
        self.learned = self.config["dropout"]["kind"] == "learned"

        dev = pick_device(job.get("device"))
        if dev == "cuda" and world > 1:
            dev = f"cuda:{local_rank}"
            torch.cuda.set_device(local_rank)
        self.device = torch.device(dev)
        if job.get("threads"):
            torch.set_num_threads(int(job["threads"]))
        precision = t.get("precision", "fp32")
        tf32 = precision == "tf32"
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
        self.autocast = precision == "bf16"

        self.train_data = load_tokens(at(job["trainBin"]), job["tokenDtype"])
        self.val_data = load_tokens(at(job["valBin"]), job["tokenDtype"])
        self.model = GPT(self.shape, self.config["dropout"])
        self.names = [n for n, _ in parameter_shapes(self.shape, self.learned)]
        params = dict(self.model.named_parameters())
        if sorted(params) != sorted(self.names):
            raise TrainError("the model's parameters do not match the engine's list (a bug)")

        if job.get("resumeFrom"):
            try:
                ck = runfolder.load_checkpoint(at(job["resumeFrom"]), self.names)
            except runfolder.CheckpointError as e:
                raise TrainError(str(e))
            weights, self.rng = ck["weights"], Rng.from_state(ck["state"]["rng"])
            self.step, self.best = ck["state"]["step"], ck["state"].get("bestValLoss")
            moments = (ck["m"], ck["v"], ck["optStep"])
        else:
            weights, _ = load_safetensors(at(job["init"]))
            self.rng = Rng.from_state(job["rng"])
            self.step, self.best, moments = 0, None, None
        with torch.no_grad():
            for n, p in params.items():
                if list(weights[n].shape) != list(p.shape):
                    raise TrainError(f"weight {n} has shape {list(weights[n].shape)} but the config needs {list(p.shape)}")
                p.copy_(weights[n])
        self.model.to(self.device)
        self.opts = self.make_optimizers()
        if moments:
            self.load_moments(*moments)

        self.net = self.model
        if t.get("compile"):
            if hasattr(torch, "compile"):
                self.net = torch.compile(self.net)
            else:
                events.log("warn", f"train.compile needs torch >= 2 (this is {torch.__version__}): training uncompiled")
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            self.net = DDP(self.net, device_ids=[local_rank] if self.device.type == "cuda" else None, broadcast_buffers=False)
        self.last_val = None
        self.warned_stuck = False
        self.warned_sites = set()
        self.engine_gone = False  # stdin closed (supervised): nobody will answer a checkpoint
        self.signalled = False
        self.stop_requested = False

    # --------------------------------------------------------------- optimizer

    def make_optimizers(self):
        return make_optimizers(self.model, self.config["train"], self.config["dropout"])

    def load_moments(self, m, v, opt_step):
        adam = self.opts[0]
        params = dict(self.model.named_parameters())
        in_adam = {id(p) for g in adam.param_groups for p in g["params"]}
        for n, p in params.items():
            if id(p) in in_adam:
                adam.state[p] = {"step": torch.tensor(float(opt_step)), "exp_avg": m[n].to(self.device).clone(),
                                 "exp_avg_sq": v[n].to(self.device).clone()}

    def moments(self):
        """(m, v) in the engine's order; SGD parameters keep none (zeros, as the engine stores them)."""
        adam = self.opts[0]
        m, v = [], []
        for n, p in self.model.named_parameters():
            st = adam.state.get(p, {})
            m.append((n, st.get("exp_avg", torch.zeros_like(p))))
            v.append((n, st.get("exp_avg_sq", torch.zeros_like(p))))
        order = {n: i for i, n in enumerate(self.names)}
        return sorted(m, key=lambda x: order[x[0]]), sorted(v, key=lambda x: order[x[0]])

    # --------------------------------------------------------------- loop

    def forward_loss(self, x, y, lam_h, lam_l1):
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.net(x)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        H, L1 = self.model.penalties()
        return ce + lam_h * H + lam_l1 * L1, ce, H, L1

    def local_rows(self, B):
        if B % self.world:
            raise TrainError(f"train.batchSize {B} must be divisible by the number of processes ({self.world})")
        n = B // self.world
        mb = self.config["train"]["microBatch"] or n
        if n % mb:
            raise TrainError(f"train.microBatch {mb} must divide each process's {n} sequences of the batch")
        return n, mb

    def check_stop(self):
        stop = self.stop_requested or (self.rank == 0 and os.path.exists(self.stop_file))
        if self.world > 1:  # every rank stops after the same step
            flag = torch.tensor([1.0 if stop else 0.0], device=self.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            stop = flag.item() > 0
        if stop:
            self.stop_requested = True
        return stop

    def run(self):
        c = self.config
        t, d = c["train"], c["dropout"]
        B, T = t["batchSize"], self.shape["blockSize"]
        decay = t["decaySteps"] if t["decaySteps"] is not None else t["steps"]
        rows, mb = self.local_rows(B)
        chunks = rows // mb
        passes = t["gradAccum"] * chunks
        r0 = self.rank * rows
        started, start_step = time.perf_counter(), self.step
        ev = self.events
        self.save_meta("running")  # also for a launch no engine prepared just now (a cluster script)
        ev.send("started", step=self.step, totalSteps=t["steps"], device=str(self.device), torch=torch.__version__,
                world=self.world, precision=t.get("precision", "fp32"))
        self.model.train()
        while self.step < t["steps"] and not self.check_stop():
            s = self.step
            t0 = time.perf_counter()
            lr = lr_at(s, t["lr"], t["minLr"], t["warmupSteps"], decay)
            lam_h = lambda_at(d["entropy"]["schedule"], s) if self.learned and d["entropy"]["enabled"] else 0.0
            lam_l1 = lambda_at(d["l1"]["schedule"], s) if self.learned and d["l1"]["enabled"] else 0.0
            want_stats = self.learned and (s + 1) % t["statsInterval"] == 0
            for o in self.opts:
                for g in o.param_groups:
                    g["lr"] = g["fixed_lr"] if g.get("fixed_lr") is not None else lr * g["lr_scale"]
                o.zero_grad(set_to_none=True)
            totals = torch.zeros(4, dtype=torch.float64, device=self.device)
            stats = None
            for a in range(t["gradAccum"]):
                x, y = draw_batch(self.train_data, B, T, self.rng)
                seed = self.rng.int(2 ** 31)
                x, y = x[r0:r0 + rows].to(self.device), y[r0:r0 + rows].to(self.device)
                for ch in range(chunks):
                    last = a == t["gradAccum"] - 1 and ch == chunks - 1
                    if d["kind"] == "standard":  # the baseline's random masks: per step, per chunk, per rank
                        torch.manual_seed(seed + ch + 1_000_003 * self.rank)
                    # stochastic rounding's noise: the engine's seed + micro-batch index (under torchrun
                    # the global chunk index; its element indices are the process's own slice's)
                    self.model.set_rounding_seed(seed + r0 // mb + ch)
                    sync = self.net.no_sync() if self.world > 1 and not last else _nullcontext()
                    with sync:
                        loss, ce, H, L1 = self.forward_loss(x[ch * mb:(ch + 1) * mb], y[ch * mb:(ch + 1) * mb], lam_h, lam_l1)
                        (loss / passes).backward()
                    totals += torch.stack([loss.detach(), ce.detach(), H.detach(), L1.detach()]).double() / passes
                    if want_stats and a == 0 and ch == 0:
                        stats = [(n, m) for n, m in self.model.learned_sites()]
                        masks = {n: m.mask.detach() for n, m in stats}
            if self.world > 1:
                torch.distributed.all_reduce(totals)
                totals /= self.world
            loss, ce, H, L1 = totals.tolist()
            if not math.isfinite(loss):
                raise TrainError(f"the loss became {loss} at step {s + 1}: try a lower learning rate (train.lr) or gradient clipping (train.gradClip)")
            if t["gradClip"] > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), t["gradClip"])
            for o in self.opts:
                o.step()
            self.step = s + 1

            dt = time.perf_counter() - t0
            tps = B * T * t["gradAccum"] / dt
            if self.rank == 0:
                self.emit({"type": "step", "step": self.step, "time": now_ms(), "loss": loss, "crossEntropy": ce, "entropy": H, "l1": L1,
                           "lambdaEntropy": lam_h, "lambdaL1": lam_l1, "lr": lr, "tokensPerSec": tps})
                if stats:
                    for n, m in stats:
                        m.mask = masks[n]
                    self.emit(self.mask_stats(stats))
            eval_now = self.step % t["evalInterval"] == 0 or self.step == t["steps"]
            if eval_now and self.rank == 0:
                self.emit(self.evaluate())
            elapsed = time.perf_counter() - started
            rate = (self.step - start_step) / max(elapsed, 1e-9)
            ev.send("progress", step=self.step, totalSteps=t["steps"], loss=loss, tokensPerSec=tps, etaSeconds=(t["steps"] - self.step) / max(rate, 1e-9))
            if self.step % t["checkpointInterval"] == 0 or self.step == t["steps"]:
                self.checkpoint()
            elif eval_now:
                self.save_meta("running")
        if self.stop_requested and (not self.folder.checkpoints() or self.folder.checkpoints()[-1][0] != self.step):
            self.checkpoint()
        return "stopped" if self.stop_requested and self.step < t["steps"] else "completed"

    def emit(self, rec):
        self.folder.append_metric(rec)
        self.events.send("metric", record=rec)

    def mean_ce(self, x, y):
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.model(x.to(self.device))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.to(self.device).reshape(-1)).item()

    @torch.no_grad()
    def evaluate(self):
        """trainingRun.ts evaluate: the train loss on evalBatches random batches from an RNG of its own;
        the validation loss over the validation split's consecutive blockSize windows (at most
        train.evalValTokens tokens of it), the same tokens every time."""
        t, T = self.config["train"], self.shape["blockSize"]
        rng = Rng((t["seed"] ^ 0x9E3779B9 ^ self.step) & 0xFFFFFFFF)
        mb = t["microBatch"] or t["batchSize"]
        chunks = t["batchSize"] // mb
        self.model.eval()
        try:
            train_loss = 0.0
            for _ in range(t["evalBatches"]):
                x, y = draw_batch(self.train_data, t["batchSize"], T, rng)
                for ch in range(chunks):
                    train_loss += self.mean_ce(x[ch * mb:(ch + 1) * mb], y[ch * mb:(ch + 1) * mb]) * mb
            train_loss /= t["evalBatches"] * t["batchSize"]
            val = self.val_data
            windows = (len(val) - 1) // T
            cap = t.get("evalValTokens", 0)
            if cap > 0:
                windows = max(1, min(windows, cap // T))
            total = 0.0
            for i in range(0, windows, mb):
                n = min(mb, windows - i)
                total += self.mean_ce(val[i * T:(i + n) * T].view(n, T), val[i * T + 1:(i + n) * T + 1].view(n, T)) * n
            val_loss = total / windows
        finally:
            self.model.train()
        self.last_val = val_loss
        if self.best is None or val_loss < self.best:
            self.best = val_loss
        return {"type": "eval", "step": self.step, "time": now_ms(), "trainLoss": train_loss, "valLoss": val_loss, "valTokens": windows * T}

    def mask_stats(self, sites):
        out = [site_stats(n, m, self.shape) for n, m in sites]
        stuck = self.step >= STUCK_AFTER_STEPS and all(s["fracHigh"] > STUCK_FRACTION for s in out)
        if stuck and not self.warned_stuck:
            self.warned_stuck = True
            self.events.log("warn", f"after {self.step} steps every LearnedDropout mask is still above 0.9 almost everywhere: nothing is being dropped. "
                            "B near 0 with a small A is a stationary point; initialize B near π/2 (dropout.bInit) or raise the penalties.")
        stuck_sites = []
        for s in out if self.step >= STUCK_AFTER_STEPS else []:
            at = stuck_at(s)
            if at:
                stuck_sites.append({"site": s["site"], "at": at})
        for ss in stuck_sites:
            key = ss["site"] + ss["at"]
            if stuck or key in self.warned_sites:
                continue
            self.warned_sites.add(key)
            what = "0.5 (undecided)" if ss["at"] == "half" else "1" if ss["at"] == "one" else "0"
            self.events.log("warn", f"after {self.step} steps the mask at {ss['site']} is stuck at {what}: {STUCK_ADVICE[ss['at']]}.")
        return {"type": "stats", "step": self.step, "time": now_ms(), "sites": out, "stuck": stuck, "stuckSites": stuck_sites}

    def checkpoint(self):
        if self.rank != 0:
            return
        params = dict(self.model.named_parameters())
        m, v = self.moments()
        info = self.folder.save_checkpoint(self.step, self.shape, self.config, self.tokenizer, [(n, params[n]) for n in self.names],
                                           m, v, self.step, self.rng.state(), self.best, self.last_val)
        self.save_meta("running")
        self.events.send("checkpoint", checkpoint=info)
        if self.job.get("reports") and self.learned:
            self.wait_for_report(self.step)

    def wait_for_report(self, step):
        """The supervising engine computes the mask report of the checkpoint just announced and appends
        it to metrics.jsonl (engine/src/torch/worker.ts); meanwhile this process writes nothing there,
        so the record sits where the TypeScript trainer writes it (after the step's eval) and no two
        processes append at once. The engine says it is done in RUN/torch/reported (the step). Given
        up when the engine is gone (stdin closed), on a signal, or after job.reportTimeoutS seconds."""
        path = os.path.join(self.run_dir, "torch", "reported")
        deadline = time.monotonic() + float(self.job.get("reportTimeoutS", 600))
        while True:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read().strip() == str(step):
                        return
            except OSError:
                pass
            if self.engine_gone or self.signalled or not self.events.enabled:
                return
            if time.monotonic() > deadline:
                self.events.log("warn", f"the engine wrote no mask report for step {step} in time; training on without it")
                return
            time.sleep(0.01)

    def save_meta(self, status, error=None):
        if self.rank != 0:
            return
        meta = self.folder.read_meta()
        meta.update(step=self.step, bestValLoss=self.best, totalSteps=self.config["train"]["steps"], status=status, backend="torch")
        # the process that trains owns the run: while it lives the run is running (also under
        # torchrun when the engine that started it is gone); when it dies the run reads as interrupted
        meta["pid"] = os.getpid()
        meta.pop("error", None)
        if error:
            meta["error"] = error
        self.folder.write_meta(meta)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def now_ms():
    return int(time.time() * 1000)


# ----------------------------------------------------------------------------- entry point

def watch_stdin(trainer_ref, stop_on_eof):
    """{"type": "stop"} → stop after this step; end of stdin (the engine is gone) → stop too."""
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("type") == "stop":
            trainer_ref["stop"] = True
            if trainer_ref.get("trainer"):
                trainer_ref["trainer"].stop_requested = True
    if stop_on_eof:
        trainer_ref["stop"] = True
        trainer_ref["gone"] = True
        if trainer_ref.get("trainer"):
            trainer_ref["trainer"].stop_requested = True
            trainer_ref["trainer"].engine_gone = True


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ldtorch.train")
    ap.add_argument("--job", required=True, help="RUN/torch/job.json, written by the engine")
    a = ap.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    events = Events(rank == 0)
    ref = {"stop": False, "trainer": None}
    signals = {"n": 0}

    def on_signal(signum, _frame):
        signals["n"] += 1
        if signals["n"] > 2:
            os._exit(130)
        ref["stop"] = True
        ref["signalled"] = True
        if ref["trainer"]:
            ref["trainer"].stop_requested = True
            ref["trainer"].signalled = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with open(a.job, encoding="utf-8") as f:
            job = json.load(f)
    except (OSError, ValueError) as e:
        events.send("ended", status="failed", step=0, error=f"cannot read the job file {a.job}: {e}")
        return 1
    if rank == 0 and job.get("stdinStop"):
        threading.Thread(target=watch_stdin, args=(ref, True), daemon=True).start()
    trainer = None
    try:
        if world > 1:
            import torch.distributed as dist
            dist.init_process_group("nccl" if torch.cuda.is_available() and job.get("device") in (None, "auto", "cuda") else "gloo")
        trainer = Trainer(a.job, events, rank, world, local_rank)
        trainer.stop_requested = ref["stop"]
        trainer.engine_gone, trainer.signalled = bool(ref.get("gone")), bool(ref.get("signalled"))
        ref["trainer"] = trainer
        status = trainer.run()
        trainer.save_meta(status)
        events.send("ended", status=status, step=trainer.step)
        return 0
    except (TrainError, runfolder.CheckpointError) as e:
        return fail(events, trainer, str(e), a.job, job, rank)
    except Exception as e:  # noqa: BLE001 — the engine shows the message; the traceback goes to stderr
        import traceback
        try:
            traceback.print_exc()
        except OSError:
            pass  # stderr is gone with the engine: the message still goes into run.json
        return fail(events, trainer, f"{type(e).__name__}: {e}", a.job, job, rank)
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def fail(events, trainer, message, job_path, job, rank):
    step = trainer.step if trainer else 0
    try:
        if trainer:
            trainer.save_meta("failed", message)
        elif rank == 0:  # it failed setting up: run.json still says so
            run_dir = os.path.abspath(job.get("runDir") or os.path.join(os.path.dirname(os.path.abspath(job_path)), ".."))
            folder = runfolder.RunFolder(run_dir)
            meta = folder.read_meta()
            meta.update(status="failed", error=message)
            folder.write_meta(meta)
    except Exception:  # noqa: BLE001 — the run folder itself may be the problem
        pass
    events.log("error", f"failed at step {step}: {message}")
    events.send("ended", status="failed", step=step, error=message)
    return 1


if __name__ == "__main__":
    sys.exit(main())
