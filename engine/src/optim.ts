// AdamW with torch's decoupled weight decay (tfjs has none), parameter groups, and clipping by
// global norm. The update is torch.optim.AdamW's, term for term.
import { tf } from './backend';

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
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly groupOf: (name: string) => ParamGroup,
    private readonly opts: AdamWOptions,
  ) {
    for (const [n, p] of params) {
      this.m.set(n, tf.variable(tf.zerosLike(p), false));
      this.v.set(n, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** One update with learning rate `lr` (before each group's scale). Grads are not disposed. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const [b1, b2] = this.opts.betas;
    const bc1 = 1 - b1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.step);
    tf.tidy(() => {
      for (const [n, p] of this.params) {
        const g = grads.get(n);
        if (!g) continue; // off the loss path (tfjs omits those from variableGrads)
        const grp = this.groupOf(n);
        const glr = lr * grp.lrScale;
        if (grp.kind === 'sgd') {
          p.assign(tf.sub(grp.weightDecay ? tf.mul(p, 1 - glr * grp.weightDecay) : p, tf.mul(g, glr)));
          continue;
        }
        const m = this.m.get(n)!, v = this.v.get(n)!;
        const decayed = grp.weightDecay ? tf.mul(p, 1 - glr * grp.weightDecay) : p;
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), this.opts.eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), glr / bc1)));
        m.assign(m1);
        v.assign(v1);
      }
    });
  }

  state(): OptimizerState {
    const read = (src: Map<string, tf.Variable>) => new Map([...src].map(([n, t]) => [n, t.dataSync() as Float32Array]));
    return { step: this.step, m: read(this.m), v: read(this.v) };
  }

  load(s: OptimizerState): void {
    for (const [name, src] of [['m', s.m], ['v', s.v]] as const) {
      const dst = name === 'm' ? this.m : this.v;
      for (const [n, t] of dst) {
        const a = src.get(n);
        if (!a || a.length !== t.size) throw new Error(`optimizer state lacks ${name} of ${n} or has the wrong size`);
        t.assign(tf.tensor(a, t.shape));
      }
    }
    this.step = s.step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max / (‖g‖ + 1e-6)).
 * Returns new tensors (the caller disposes both sets) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  const normT = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  const coef = maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [n, g] of grads) out.set(n, coef === 1 ? g.clone() : tf.mul(g, coef));
  return { grads: out, norm };
}
