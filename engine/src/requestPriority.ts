// Requests a user waits for (the visible range of an analysis, a hover's masks, a whole small
// analysis) go before training steps: the trainer awaits `yieldToRequests()` between steps, and
// that waits while any such request is being computed. Background work (the rest of a long
// document) is not held: it alternates with training steps batch by step.
let held = 0;
const resume: (() => void)[] = [];

/** Pauses training between its steps until the returned function is called (once). */
export function hold(): () => void {
  held++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--held === 0) resume.splice(0).forEach((r) => r());
  };
}

/** Runs `work` with training paused between its steps until it settles. */
export async function holdTraining<T>(work: Promise<T>): Promise<T> {
  const release = hold();
  try {
    return await work;
  } finally {
    release();
  }
}

/** Between training steps: lets pending messages in, then waits while requests are held. */
export async function yieldToRequests(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  while (held > 0) await new Promise<void>((r) => resume.push(r));
}

export function trainingHeld(): boolean {
  return held > 0;
}
