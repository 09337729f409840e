// The mask report record written at each checkpoint (by TrainingRun, and by the engine for the
// torch worker's checkpoints): the same windows and chance draws on either trainer.
import type { ReportRecord } from '@common/protocol';
import { maskReportOnIds } from '../maskReport';
import type { GPT } from '../model';
import type { Tokenizer } from '../tokenizer';

/** Over the validation split's first REPORT_WINDOWS windows, chance from a few draws. */
export const REPORT_WINDOWS = 32;
export const REPORT_CHANCE_DRAWS = 3;

/** The mask report of `model` at `step` on the validation split's first REPORT_WINDOWS windows. */
export async function maskReportRecord(model: GPT, tokenizer: Tokenizer, validationIds: ArrayLike<number>, step: number): Promise<ReportRecord> {
  const report = await maskReportOnIds(model, tokenizer, validationIds, { chanceDraws: REPORT_CHANCE_DRAWS, maxTokens: REPORT_WINDOWS * model.shape.blockSize });
  return { type: 'report', step, time: Date.now(), report };
}
