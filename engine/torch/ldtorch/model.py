"""The LearnedDropout GPT: nanoGPT's decoder (pre-LayerNorm, no biases, exact-erf GELU, tied
lm_head) with every dropout replaced by a learned, input-dependent mask

    m = 0.5 * cos(A * stop_grad(x) + B) + 0.5,    y = x * m

Parameter names and layouts are the engine's checkpoints' (and shared/reference/ld_gpt.py's):
a checkpoint's model.safetensors loads with load_state_dict as it is. The config is the engine's
(common/config.ts): `dropout.kind` learned | standard | none, `detachInput`, `sharpen`,
`entropy.form` shannon | complement, `rounding` none | straight-through | stochastic.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LN2 = math.log(2.0)


M32 = 0xFFFFFFFF


def _mul32(a, c):
    """(a · c) mod 2^32 for int64 tensors a < 2^32 and a 32-bit constant c, without int64 overflow."""
    lo = a * (c & 0xFFFF)
    hi = ((a * (c >> 16)) & 0xFFFF) << 16
    return (lo + hi) & M32


def mask_noise(seed, salt, n, device=None):
    """The engine's maskNoise (engine/src/ops/maskRounding.ts): murmur3's 32-bit finalizer of
    (seed, site salt, element index), 24 bits, as float32 uniforms in [0, 1)."""
    s = (seed ^ (((salt + 1) * 0x9E3779B9) & M32)) & M32
    z = (s + _mul32(torch.arange(n, dtype=torch.int64, device=device), 0x85EBCA6B)) & M32
    z = z ^ (z >> 16)
    z = _mul32(z, 0x7FEB352D)
    z = z ^ (z >> 15)
    z = _mul32(z, 0x846CA68B)
    z = z ^ (z >> 16)
    return (z >> 8).to(torch.float32) / 16777216.0  # exact: 24 bits


class _StraightThrough(torch.autograd.Function):
    """Forward the hard mask; the gradient goes to the soft mask unchanged (the hard one gets none)."""

    @staticmethod
    def forward(ctx, soft, hard):
        return hard.clone()

    @staticmethod
    def backward(ctx, g):
        return g, None


class LearnedDropout(nn.Module):
    """y = x * m over the last dim; A and B are sliced to its length (attention: the current T).
    With `rounding` the forward multiplies by a binary mask with m's gradient (maskRounding.ts
    roundMask): [m ≥ 0.5] always ('straight-through'), or in training [u < m] with u the engine's
    counter-hash noise of (seed, salt) ('stochastic'; m itself at inference)."""

    def __init__(self, n, detach=True, sharpen=False, rounding="none", salt=0):
        super().__init__()
        self.A = nn.Parameter(torch.zeros(n))
        self.B = nn.Parameter(torch.zeros(n))
        self.detach, self.sharpen = detach, sharpen
        self.rounding, self.salt = rounding, salt
        self.seed = 0  # the step's seed (+ micro-batch index), set by the trainer before each training forward
        self.mask = None  # the last (soft) mask: the penalties and the mask statistics read it

    def forward(self, x):
        n = x.shape[-1]
        inp = x.detach() if self.detach else x
        m = 0.5 * torch.cos(self.A[:n] * inp + self.B[:n]) + 0.5
        if self.sharpen:  # pushes m to 0/1 while staying differentiable
            m = torch.sigmoid(60.0 * m - 30.0)
        self.mask = m
        if self.rounding == "none" or (self.rounding == "stochastic" and not self.training):
            return x * m
        if self.rounding == "straight-through":
            hard = (m >= 0.5).to(m.dtype)
        else:
            u = mask_noise(self.seed, self.salt, m.numel(), m.device).view(m.shape)
            hard = (u < m.float()).to(m.dtype)
        return x * _StraightThrough.apply(m, hard)


def make_dropout(d, n, salt=0):
    """The dropout of one site for the config's `dropout` section; `salt`: the site's in the
    engine's noise (0 for transformer.drop, 4i+1, 4i+2, 4i+3 for layer i's three sites)."""
    if d["kind"] == "learned":
        return LearnedDropout(n, d["detachInput"], d["sharpen"], d.get("rounding", "none"), salt)
    if d["kind"] == "standard":
        return nn.Dropout(d["rate"])  # inverted dropout, training only (the engine's tf.dropout)
    return nn.Identity()


def layer_norm(x, w):
    return F.layer_norm(x, (x.shape[-1],), w, None, 1e-5)


class LayerNormWeight(nn.Module):
    """A LayerNorm without bias whose parameter is named `weight` (ln_1.weight, …)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return layer_norm(x, self.weight)


class Attention(nn.Module):
    def __init__(self, s, d, i=0):
        super().__init__()
        C, T = s["nEmbd"], s["blockSize"]
        self.n_head = s["nHead"]
        self.c_attn = nn.Linear(C, 3 * C, bias=False)
        self.c_proj = nn.Linear(C, C, bias=False)
        self.attn_dropout = make_dropout(d, T, 4 * i + 1)  # over the softmaxed probabilities
        self.resid_dropout = make_dropout(d, C, 4 * i + 2)
        # a plain attribute, not a buffer: DDP broadcasts buffers at start and gloo has no bool
        self.future = torch.ones(T, T, dtype=torch.bool).triu(1)  # key j > query i: masked

    def forward(self, x):
        Bsz, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = [t.view(Bsz, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)]
        # explicit attention (no fused SDPA): LearnedDropout needs the probabilities themselves
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        if self.future.device != x.device:  # moved once, on the first forward on a device
            self.future = self.future.to(x.device)
        att = att.masked_fill(self.future[:T, :T], float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(Bsz, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, s, d, i=0):
        super().__init__()
        C = s["nEmbd"]
        self.c_fc = nn.Linear(C, 4 * C, bias=False)
        self.c_proj = nn.Linear(4 * C, C, bias=False)
        self.dropout = make_dropout(d, C, 4 * i + 3)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, s, d, i=0):
        super().__init__()
        self.ln_1 = LayerNormWeight(s["nEmbd"])
        self.attn = Attention(s, d, i)
        self.ln_2 = LayerNormWeight(s["nEmbd"])
        self.mlp = MLP(s, d, i)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """`shape`: the run's model (vocabSize, blockSize, nEmbd, nHead, nLayer); `dropout`: its config."""

    def __init__(self, shape, dropout):
        super().__init__()
        self.shape, self.dropout_cfg = shape, dropout
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(shape["vocabSize"], shape["nEmbd"])
        self.transformer.wpe = nn.Embedding(shape["blockSize"], shape["nEmbd"])
        self.transformer.drop = make_dropout(dropout, shape["nEmbd"], 0)
        self.transformer.h = nn.ModuleList([Block(shape, dropout, i) for i in range(shape["nLayer"])])
        self.transformer.ln_f = LayerNormWeight(shape["nEmbd"])

    def sites(self):
        """(name, module) of every dropout site in forward order, with their nanoGPT names."""
        out = [("transformer.drop", self.transformer.drop)]
        for i, b in enumerate(self.transformer.h):
            p = f"transformer.h.{i}."
            out += [(p + "attn.attn_dropout", b.attn.attn_dropout),
                    (p + "attn.resid_dropout", b.attn.resid_dropout),
                    (p + "mlp.dropout", b.mlp.dropout)]
        return out

    def learned_sites(self):
        return [(n, m) for n, m in self.sites() if isinstance(m, LearnedDropout)]

    def set_rounding_seed(self, seed):
        """The seed of the next training forward's stochastic rounding (the engine's opts.seed)."""
        for _, m in self.learned_sites():
            m.seed = int(seed)

    def forward(self, idx):
        T = idx.shape[1]
        pos = torch.arange(T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for b in self.transformer.h:
            x = b(x)
        x = self.transformer.ln_f(x)
        return x @ self.transformer.wte.weight.t()  # tied lm_head

    def penalties(self):
        """Mean over sites of H_k = mean(−p·log2(p + 1e-9)) (p = m, or 1 − m for `complement`) and L1_k = mean(m)."""
        ms = [m.mask for _, m in self.learned_sites()]
        if not ms:
            z = torch.zeros((), device=self.transformer.wte.weight.device)
            return z, z
        complement = self.dropout_cfg["entropy"]["form"] == "complement"
        hs = []
        for m in ms:
            p = 1.0 - m if complement else m
            hs.append((-p * torch.log(p + 1e-9)).mean())
        # m = 0.5·cos(·) + 0.5 ≥ 0, so |m| = m
        return torch.stack(hs).mean() / LN2, torch.stack([m.mean() for m in ms]).mean()

    def loss(self, idx, targets, lambda_entropy, lambda_l1):
        """(loss, cross-entropy, H, L1): cross_entropy + λ_H·H + λ_L1·L1, as the engine's GPT.loss."""
        logits = self(idx)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
        H, L1 = self.penalties()
        return ce + lambda_entropy * H + lambda_l1 * L1, ce, H, L1


def parameter_shapes(shape, learned):
    """Names and shapes in the engine's order (engine/src/model.ts parameterShapes)."""
    C, T = shape["nEmbd"], shape["blockSize"]

    def ld(name, n):
        return [(name + ".A", [n]), (name + ".B", [n])] if learned else []

    out = [("transformer.wte.weight", [shape["vocabSize"], C]), ("transformer.wpe.weight", [T, C])]
    out += ld("transformer.drop", C)
    for i in range(shape["nLayer"]):
        p = f"transformer.h.{i}."
        out += [(p + "ln_1.weight", [C]), (p + "attn.c_attn.weight", [3 * C, C]), (p + "attn.c_proj.weight", [C, C])]
        out += ld(p + "attn.attn_dropout", T) + ld(p + "attn.resid_dropout", C)
        out += [(p + "ln_2.weight", [C]), (p + "mlp.c_fc.weight", [4 * C, C]), (p + "mlp.c_proj.weight", [C, 4 * C])]
        out += ld(p + "mlp.dropout", C)
    out.append(("transformer.ln_f.weight", [C]))
    return out
