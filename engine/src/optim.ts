// AdamW with torch's decoupled weight decay (tfjs has none), parameter groups, and clipping by
// global norm. The update is torch.optim.AdamW's, term for term (in float64, stored as float32).
import { tf } from './backend';
import { backendOps } from './ops/backendOps';
import { buf } from './ops/kernels';
import { buffersReusable, clipCoefficient, globalNorm, ownBuffer, updateInPlace } from './optimInPlace';

export interface ParamGroup {
  /** Multiplies the scheduled learning rate (A/B may run at their own rate). */
  lrScale: number;
  /** A learning rate of the group's own at every step, instead of lrScale × the schedule's. */
  fixedLr?: number;
  weightDecay: number;
  kind: 'adamw' | 'sgd';
}

export interface AdamWOptions {
  betas: [number, number];
  eps: number;
}

export interface OptimizerState {
  step: number;
  /** First and second moments per parameter name. */
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  step = 0;
  /**
   * Where the moments live. On the CPU backends (wasm, cpu) in JS arrays: the update is one loop
   * per parameter instead of ~10 tfjs kernels. On a GPU backend in tensors on the device (no weight
   * or gradient crosses to the host), as one flat vector over all parameters: each tfjs op costs
   * ~0.1 ms of host time on webgpu whatever its size, so ~15 ops per parameter would cost more than
   * the whole update; flat, the clip and the update take ~20 ops plus one slice per parameter.
   */
  readonly onDevice: boolean;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  /** On the device: the parameters' order and sizes in the flat vectors, the moments, per-element constants. */
  private readonly flat?: { names: string[]; sizes: number[]; m: tf.Variable; v: tf.Variable; lrScale: tf.Tensor1D; decayRate: tf.Tensor1D; adam: tf.Tensor1D | null; fixed: { lr: tf.Tensor1D; decay: tf.Tensor1D } | null };

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly groupOf: (name: string) => ParamGroup,
    private readonly opts: AdamWOptions & { onDevice?: boolean },
  ) {
    this.onDevice = opts.onDevice ?? !backendOps().inPlace;
    if (this.onDevice) {
      const names = [...params.keys()];
      const sizes = names.map((n) => params.get(n)!.size);
      const total = sizes.reduce((a, b) => a + b, 0);
      const per = (f: (g: ParamGroup) => number) => {
        const a = new Float32Array(total);
        let o = 0;
        names.forEach((n, i) => {
          a.fill(f(groupOf(n)), o, o + sizes[i]);
          o += sizes[i];
        });
        return tf.tensor1d(a);
      };
      const anySgd = names.some((n) => groupOf(n).kind === 'sgd');
      this.flat = {
        names,
        sizes,
        m: tf.variable(tf.zeros([total]), false),
        v: tf.variable(tf.zeros([total]), false),
        lrScale: per((g) => (g.fixedLr === undefined ? g.lrScale : 0)),
        decayRate: per((g) => (g.fixedLr === undefined ? g.lrScale * g.weightDecay : 0)),
        adam: anySgd ? per((g) => (g.kind === 'adamw' ? 1 : 0)) : null,
        fixed: names.some((n) => groupOf(n).fixedLr !== undefined)
          ? { lr: per((g) => g.fixedLr ?? 0), decay: per((g) => (g.fixedLr ?? 0) * g.weightDecay) }
          : null,
      };
    } else {
      for (const [n, p] of params) {
        this.m.set(n, new Float32Array(p.size));
        this.v.set(n, new Float32Array(p.size));
      }
    }
  }

  /**
   * torch's clip_grad_norm_ then one AdamW step, with learning rate `lr` (before each group's
   * scale). Returns the gradients' global norm before clipping. Grads are not disposed.
   */
  async update(grads: Map<string, tf.Tensor>, lr: number, maxNorm: number): Promise<number> {
    if (!this.onDevice) {
      const norm = globalNorm(grads.values());
      this.applyInPlace(grads, lr, clipCoefficient(norm, maxNorm));
      return norm;
    }
    if (this.flat && this.flat.names.every((n) => grads.has(n))) return this.updateFlat(grads, lr, maxNorm);
    const clipped = await clipByGlobalNorm(grads, maxNorm);
    this.apply(clipped.grads, lr);
    tf.dispose([...clipped.grads.values()]);
    return clipped.norm;
  }

  /** One update with learning rate `lr` (before each group's scale). Grads are not disposed. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    if (this.onDevice) return this.applyOnDevice(grads, lr);
    this.applyInPlace(grads, lr, 1);
  }

  /**
   * On the CPU backends: gradients (times the clip coefficient `coef`) read in place, each
   * parameter updated in its own buffer (optimInPlace.ts says when that is safe).
   */
  private applyInPlace(grads: Map<string, tf.Tensor>, lr: number, coef: number): void {
    this.step += 1;
    const [b1, b2] = this.opts.betas;
    const k = { b1, b2, eps: this.opts.eps, bc1: 1 - b1 ** this.step, bc2Sqrt: Math.sqrt(1 - b2 ** this.step) };
    const reuse = buffersReusable();
    for (const [n, p] of this.params) {
      const gt = grads.get(n);
      if (!gt) continue; // off the loss path (tfjs omits those from variableGrads)
      const grp = this.groupOf(n);
      const w = ownBuffer(p, reuse); // may allocate: the gradient's view after it (wasm heap)
      const sgd = grp.kind === 'sgd';
      updateInPlace(w, buf(gt), coef, sgd ? null : this.m.get(n)!, sgd ? null : this.v.get(n)!, grp.fixedLr ?? lr * grp.lrScale, grp.weightDecay, k);
    }
  }

  /** Parameters off the loss path (absent from `grads`) keep their value and moments, as in torch. */
  private applyOnDevice(grads: Map<string, tf.Tensor>, lr: number): void {
    const f = this.flat!;
    const complete = f.names.every((n) => grads.has(n));
    const g = tf.tidy(() => tf.concat(f.names.map((n) => tf.reshape(grads.get(n) ?? tf.zerosLike(this.params.get(n)!), [-1]))));
    const present = complete ? null : tf.tidy(() => tf.concat(f.names.map((n, i) => tf.fill([f.sizes[i]], grads.has(n) ? 1 : 0, 'bool'))));
    this.applyFlat(g, lr, present);
    tf.dispose([g, ...(present ? [present] : [])]);
  }

  private async updateFlat(grads: Map<string, tf.Tensor>, lr: number, maxNorm: number): Promise<number> {
    const f = this.flat!;
    const g = tf.tidy(() => tf.concat(f.names.map((n) => tf.reshape(grads.get(n)!, [-1]))));
    const normT = tf.tidy(() => tf.sqrt(tf.sum(tf.square(g))));
    const norm = (await normT.data())[0];
    normT.dispose();
    const coef = maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
    if (coef !== 1) {
      const scaled = tf.mul(g, coef);
      this.applyFlat(scaled, lr);
      scaled.dispose();
    } else this.applyFlat(g, lr);
    g.dispose();
    return norm;
  }

  /** torch.optim.AdamW's update, element-wise over the flat vector (float32, as torch on a GPU). */
  private applyFlat(g: tf.Tensor, lr: number, present: tf.Tensor | null = null): void {
    const f = this.flat!;
    this.step += 1;
    const [b1, b2] = this.opts.betas;
    const bc1 = 1 - b1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.step);
    tf.tidy(() => {
      const p = tf.concat(f.names.map((n) => tf.reshape(this.params.get(n)!, [-1])));
      let glr = tf.mul(f.lrScale, lr); // per element: lr × its group's scale (or its fixed lr)
      let decay = tf.sub(1, tf.mul(f.decayRate, lr)); // 1 − glr·weight decay
      if (f.fixed) [glr, decay] = [tf.add(glr, f.fixed.lr), tf.sub(decay, f.fixed.decay)];
      let m = tf.add(tf.mul(f.m, b1), tf.mul(g, 1 - b1));
      let v = tf.add(tf.mul(f.v, b2), tf.mul(tf.square(g), 1 - b2));
      if (f.adam) [m, v] = [tf.mul(m, f.adam), tf.mul(v, f.adam)]; // sgd groups keep no moments
      f.m.assign(present ? tf.where(present, m, f.m) : m);
      f.v.assign(present ? tf.where(present, v, f.v) : v);
      let step = tf.div(tf.div(m, bc1), tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.opts.eps));
      if (f.adam) step = tf.add(tf.mul(step, f.adam), tf.mul(g, tf.sub(1, f.adam))); // sgd groups: the plain gradient
      let next = tf.sub(tf.mul(p, decay), tf.mul(glr, step));
      if (present) next = tf.where(present, next, p);
      tf.split(next, f.sizes).forEach((part, i) => {
        const variable = this.params.get(f.names[i])!;
        variable.assign(tf.reshape(part, variable.shape));
      });
    });
  }

  async state(): Promise<OptimizerState> {
    if (this.flat) {
      const f = this.flat;
      const read = async (t: tf.Tensor) => {
        const all = (await t.data()) as Float32Array;
        const out = new Map<string, Float32Array>();
        let o = 0;
        f.names.forEach((n, i) => {
          out.set(n, all.slice(o, o + f.sizes[i]));
          o += f.sizes[i];
        });
        return out;
      };
      return { step: this.step, m: await read(f.m), v: await read(f.v) };
    }
    const copy = (src: Map<string, Float32Array>) => new Map([...src].map(([n, a]) => [n, a.slice()]));
    return { step: this.step, m: copy(this.m), v: copy(this.v) };
  }

  load(s: OptimizerState): void {
    for (const [name, src] of [['m', s.m], ['v', s.v]] as const) {
      for (const [n, p] of this.params) {
        const a = src.get(n);
        if (!a || a.length !== p.size) throw new Error(`optimizer state lacks ${name} of ${n} or has the wrong size`);
      }
      if (this.flat) {
        const f = this.flat;
        const all = new Float32Array(f.sizes.reduce((a, b) => a + b, 0));
        let o = 0;
        f.names.forEach((n, i) => {
          all.set(src.get(n)!, o);
          o += f.sizes[i];
        });
        const t = tf.tensor1d(all);
        (name === 'm' ? f.m : f.v).assign(t);
        t.dispose();
      } else for (const n of this.params.keys()) (name === 'm' ? this.m : this.v).get(n)!.set(src.get(n)!);
    }
    this.step = s.step;
  }

  dispose(): void {
    this.m.clear();
    this.v.clear();
    if (this.flat) tf.dispose([this.flat.m, this.flat.v, this.flat.lrScale, this.flat.decayRate, ...(this.flat.adam ? [this.flat.adam] : []), ...(this.flat.fixed ? [this.flat.fixed.lr, this.flat.fixed.decay] : [])]);
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max / (‖g‖ + 1e-6)).
 * Returns new tensors (the caller disposes both sets) and the norm before clipping.
 */
export async function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<{ grads: Map<string, tf.Tensor>; norm: number }> {
  // One addN on the CPU backends; a chain of adds elsewhere: WebGPU binds one storage buffer per
  // addN input, at most 8 (both sum in the same order).
  const normT = tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(backendOps().inPlace ? tf.addN(squares) : squares.reduce((a, b) => tf.add(a, b)));
  });
  const norm = (await normT.data())[0];
  normT.dispose();
  const coef = maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [n, g] of grads) out.set(n, coef === 1 ? g.clone() : tf.mul(g, coef));
  return { grads: out, norm };
}
