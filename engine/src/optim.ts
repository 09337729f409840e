// AdamW with torch's decoupled weight decay (tfjs has none), parameter groups, and clipping by
// global norm. The update is torch.optim.AdamW's, term for term (in float64, stored as float32).
import { tf } from './backend';
import { inPlaceBackend } from './kernels';

export interface ParamGroup {
  /** Multiplies the scheduled learning rate (A/B may run at their own rate). */
  lrScale: number;
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
   * per parameter instead of ~10 tfjs kernels. On a GPU backend in tensors on the device, so that
   * no weight or gradient crosses to the host each step.
   */
  readonly onDevice: boolean;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private readonly mT = new Map<string, tf.Variable>();
  private readonly vT = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly groupOf: (name: string) => ParamGroup,
    private readonly opts: AdamWOptions & { onDevice?: boolean },
  ) {
    this.onDevice = opts.onDevice ?? !inPlaceBackend();
    for (const [n, p] of params) {
      if (this.onDevice) {
        this.mT.set(n, tf.variable(tf.zerosLike(p), false));
        this.vT.set(n, tf.variable(tf.zerosLike(p), false));
      } else {
        this.m.set(n, new Float32Array(p.size));
        this.v.set(n, new Float32Array(p.size));
      }
    }
  }

  /** One update with learning rate `lr` (before each group's scale). Grads are not disposed. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    if (this.onDevice) return this.applyOnDevice(grads, lr);
    this.step += 1;
    const [b1, b2] = this.opts.betas;
    const eps = this.opts.eps;
    const bc1 = 1 - b1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.step);
    for (const [n, p] of this.params) {
      const gt = grads.get(n);
      if (!gt) continue; // off the loss path (tfjs omits those from variableGrads)
      const grp = this.groupOf(n);
      const glr = lr * grp.lrScale;
      const decay = 1 - glr * grp.weightDecay;
      const w = Float32Array.from(p.dataSync() as Float32Array);
      const g = gt.dataSync() as Float32Array;
      if (grp.kind === 'sgd') {
        for (let i = 0; i < w.length; i++) w[i] = w[i] * decay - glr * g[i];
      } else {
        const m = this.m.get(n)!, v = this.v.get(n)!;
        const stepSize = glr / bc1;
        for (let i = 0; i < w.length; i++) {
          // torch.optim.AdamW: decoupled decay, then the bias-corrected Adam step
          const gi = g[i];
          const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
          const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
          w[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
        }
      }
      const next = tf.tensor(w, p.shape);
      p.assign(next);
      next.dispose();
    }
  }

  /** The same update as tensor ops (float32 throughout, as torch on a GPU). */
  private applyOnDevice(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const [b1, b2] = this.opts.betas;
    const bc1 = 1 - b1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.step);
    for (const [n, p] of this.params) {
      const g = grads.get(n);
      if (!g) continue;
      const grp = this.groupOf(n);
      const glr = lr * grp.lrScale;
      const decay = 1 - glr * grp.weightDecay;
      tf.tidy(() => {
        if (grp.kind === 'sgd') {
          p.assign(tf.sub(tf.mul(p, decay), tf.mul(g, glr)));
          return;
        }
        const m = this.mT.get(n)!, v = this.vT.get(n)!;
        const mi = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const vi = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(mi);
        v.assign(vi);
        const denom = tf.add(tf.div(tf.sqrt(vi), bc2Sqrt), this.opts.eps);
        p.assign(tf.sub(tf.mul(p, decay), tf.div(tf.mul(mi, glr / bc1), denom)));
      });
    }
  }

  async state(): Promise<OptimizerState> {
    if (this.onDevice) {
      const read = async (src: Map<string, tf.Variable>) => new Map(await Promise.all([...src].map(async ([n, t]) => [n, (await t.data()) as Float32Array] as const)));
      return { step: this.step, m: await read(this.mT), v: await read(this.vT) };
    }
    const copy = (src: Map<string, Float32Array>) => new Map([...src].map(([n, a]) => [n, a.slice()]));
    return { step: this.step, m: copy(this.m), v: copy(this.v) };
  }

  load(s: OptimizerState): void {
    for (const [name, src] of [['m', s.m], ['v', s.v]] as const) {
      for (const [n, p] of this.params) {
        const a = src.get(n);
        if (!a || a.length !== p.size) throw new Error(`optimizer state lacks ${name} of ${n} or has the wrong size`);
        if (this.onDevice) {
          const t = tf.tensor(a, p.shape);
          (name === 'm' ? this.mT : this.vT).get(n)!.assign(t);
          t.dispose();
        } else (name === 'm' ? this.m : this.v).get(n)!.set(a);
      }
    }
    this.step = s.step;
  }

  dispose(): void {
    this.m.clear();
    this.v.clear();
    for (const t of [...this.mT.values(), ...this.vT.values()]) t.dispose();
    this.mT.clear();
    this.vT.clear();
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max / (‖g‖ + 1e-6)).
 * Returns new tensors (the caller disposes both sets) and the norm before clipping.
 */
export async function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<{ grads: Map<string, tf.Tensor>; norm: number }> {
  // A chain of adds, not tf.addN: WebGPU binds one storage buffer per addN input, at most 8.
  const normT = tf.tidy(() => tf.sqrt([...grads.values()].map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b))));
  const norm = (await normT.data())[0];
  normT.dispose();
  const coef = maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [n, g] of grads) out.set(n, coef === 1 ? g.clone() : tf.mul(g, coef));
  return { grads: out, norm };
}
