// The export buttons' work: the file for a kind (the site's masks as CSV, the analysis as JSON, the
// view as SVG or PNG) sent to the host, which saves it; the outcome goes to the status line.
import { shortSiteLabel } from '@common/sites';
import type { ExportKind, ExportRequest, ExportResult } from '@common/webviewProtocol';
import { byId, el } from '../common/dom';
import { canvasToPngBase64, safeFileStem, svgToPngBase64 } from '../common/export';
import { describeExport, ExportClient } from '../common/exportClient';
import type { AnalysisModel } from '../common/masks';
import { analysisJson, masksCsv, viewSvg } from './exporter';
import type { Heatmap } from './heatmap';
import { LEVELS } from './tokenStrip';

/** What is on screen, as the exported view shows it. */
export interface ShownView {
  model: AnalysisModel;
  site: number;
  heatmap: Heatmap;
  /** The strip's colour levels per token. */
  levels: Uint8Array;
  title: string;
  /** What the strip's and the cells' colours measure. */
  colours: string;
}

export class ViewExport {
  private readonly client: ExportClient;

  constructor(
    post: (message: ExportRequest) => void,
    private readonly status: (text: string) => void,
  ) {
    this.client = new ExportClient(post);
  }

  async export(kind: ExportKind, view: ShownView | null): Promise<void> {
    if (!view) return this.status('Nothing to export yet.');
    const { model, site, heatmap } = view;
    const stem = safeFileStem(`masks-step${model.analysis.checkpoint.step}-${shortSiteLabel(model.sites[site]!)}`);
    try {
      let result;
      if (kind === 'csv') result = await this.client.send('csv', `${stem}.csv`, masksCsv(model, site), 'text');
      else if (kind === 'json') result = await this.client.send('json', `${safeFileStem(`analysis-step${model.analysis.checkpoint.step}`)}.json`, analysisJson(model), 'text');
      else {
        const snapshot = viewSvg({
          model,
          site,
          window: heatmap.window(),
          heatmap: heatmap.canvas,
          axes: heatmap.axes,
          levels: view.levels,
          levelColors: levelColors(),
          title: view.title,
          colours: view.colours,
        });
        if (kind === 'svg') result = await this.client.send('svg', `${stem}.svg`, snapshot.svg, 'text');
        else {
          let png: string;
          try {
            png = await svgToPngBase64(snapshot.svg, snapshot.width, snapshot.height);
          } catch {
            png = canvasToPngBase64(heatmap.canvas); // an SVG that fails to rasterize: the cells alone
          }
          result = await this.client.send('png', `${stem}.png`, png, 'base64');
        }
      }
      this.status(describeExport(result));
    } catch (e) {
      this.status(`Export failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The host's `exportResult`: settles its request and says the outcome. */
  resolve(result: ExportResult): void {
    this.client.resolve(result);
    this.status(describeExport(result));
  }
}

/** Resolved background colours of the strip's levels (for SVG export). */
function levelColors(): string[] {
  const out: string[] = [];
  const probe = el('span', 'tok');
  byId('app').append(probe); // inside the view: diff mode changes the level colour
  for (let l = 0; l < LEVELS; l++) {
    probe.className = `tok lv${l}`;
    out.push(getComputedStyle(probe).backgroundColor);
  }
  probe.remove();
  return out;
}
