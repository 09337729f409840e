// Analyze Document / Selection, Clear, Choose Layer and Site, Choose Metric, Toggle Soft/Rounded.
import * as vscode from 'vscode';
import type * as P from '@common/protocol';
import { SITE_KIND_LABEL, siteLabel } from '@common/sites';
import { METRIC_LABEL, type MetricKind, type PaintChoice, type SiteChoice } from '../heatmap/metrics';
import type { Services } from '../services';

function activeEditor(): vscode.TextEditor | undefined {
  const ed = vscode.window.activeTextEditor;
  if (!ed) void vscode.window.showInformationMessage('Open a text document to analyze first.');
  return ed;
}

export async function analyzeDocumentCommand(s: Services, uri?: vscode.Uri): Promise<boolean> {
  const ed = uri ? vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString()) : activeEditor();
  if (!ed) return false;
  return !!(await s.analyzer.analyze(ed.document, ed, { selection: undefined, interactive: true }));
}

export async function analyzeSelectionCommand(s: Services): Promise<boolean> {
  const ed = activeEditor();
  if (!ed) return false;
  if (ed.selection.isEmpty) return analyzeDocumentCommand(s);
  return !!(await s.analyzer.analyze(ed.document, ed, { selection: ed.selection, interactive: true }));
}

export function clearHeatmapCommand(s: Services): void {
  const ed = vscode.window.activeTextEditor;
  if (ed && s.heatmap.get(ed.document.uri)) s.heatmap.clear(ed.document.uri);
  else s.heatmap.clear();
}

/** The sites of the painted analysis, else of the model shape the tiny preset would have. */
function knownSites(s: Services): P.MaskSite[] | undefined {
  return s.heatmap.current()?.view.sites as P.MaskSite[] | undefined;
}

type SitePick = vscode.QuickPickItem & { site?: SiteChoice };

export async function chooseSiteCommand(s: Services, arg?: SiteChoice): Promise<void> {
  let site = arg;
  if (!site) {
    const sites = knownSites(s);
    if (!sites) {
      void vscode.window.showInformationMessage('Analyze a document first: the layers and sites come from its model.', 'Analyze Document').then((a) => a && vscode.commands.executeCommand('ldlens.analyzeDocument'));
      return;
    }
    const cur = s.heatmap.choice.site;
    const items: SitePick[] = [{ label: '$(layers) All layers', description: "the whole model: the engine's default painted value (attention sites left out)", site: { kind: 'all' }, picked: cur.kind === 'all' }];
    let lastLayer: number | undefined;
    for (const x of sites) {
      if (x.layer !== lastLayer) {
        items.push({ label: x.layer < 0 ? 'Embedding' : `Layer ${x.layer}`, kind: vscode.QuickPickItemKind.Separator });
        lastLayer = x.layer;
      }
      items.push({
        label: siteLabel(x),
        description: `${SITE_KIND_LABEL[x.kind]} dropout · ${x.units} units`,
        detail: x.name,
        site: { kind: 'site', name: x.name },
      });
    }
    const active = items.find((i) => i.site && (i.site.kind === 'all' ? cur.kind === 'all' : cur.kind === 'site' && i.site.name === cur.name));
    const qp = vscode.window.createQuickPick<SitePick>();
    qp.title = 'Choose Layer and Site to Paint';
    qp.placeholder = 'Embedding, attention, attention output or MLP dropout of a layer, or all layers';
    qp.items = items;
    if (active) qp.activeItems = [active];
    // Preview while moving through the list; Escape restores the previous site.
    const before = s.heatmap.choice;
    qp.onDidChangeActive((a) => a[0]?.site && void s.heatmap.setChoice({ ...s.heatmap.choice, site: a[0].site }));
    site = await new Promise<SiteChoice | undefined>((resolve) => {
      qp.onDidAccept(() => {
        resolve(qp.selectedItems[0]?.site);
        qp.hide();
      });
      qp.onDidHide(() => resolve(undefined));
      qp.show();
    });
    qp.dispose();
    if (!site) {
      await s.heatmap.setChoice(before);
      return;
    }
  }
  await s.heatmap.setChoice({ ...s.heatmap.choice, site });
}

type MetricPick = vscode.QuickPickItem & { metric: MetricKind };

export async function chooseMetricCommand(s: Services, arg?: { metric: MetricKind; unit?: number }): Promise<void> {
  let metric = arg?.metric;
  let unit = arg?.unit ?? s.heatmap.choice.unit;
  if (!metric) {
    const cur = s.heatmap.choice.metric;
    const items: MetricPick[] = [
      { metric: 'painted', label: METRIC_LABEL.painted, detail: "All layers: the engine's default value (attention sites left out; they follow window position). One site: its kept fraction." },
      { metric: 'fraction', label: METRIC_LABEL.fraction, detail: 'Fraction of units kept (m ≥ 0.5); attention: of the causal keys. All layers: averaged over the non-attention sites.' },
      { metric: 'decided', label: METRIC_LABEL.decided, detail: 'Mean |2m − 1|: 0 when every m sits at 0.5 (undecided), 1 when every m is 0 or 1.' },
      { metric: 'mean', label: METRIC_LABEL.mean, detail: 'Mean of m over the units (attention: over the causal keys).' },
      { metric: 'active', label: METRIC_LABEL.active, detail: 'How many units keep the token (m ≥ 0.5); soft view: Σm. All layers: summed over the non-attention sites.' },
      { metric: 'vsChance', label: METRIC_LABEL.vsChance, detail: 'Kept fraction minus what untrained A/B give on the same hidden states: where training changed the mask.' },
      { metric: 'unit', label: METRIC_LABEL.unit, detail: 'The mask of one unit of the site, per token.' },
    ];
    const pick = await vscode.window.showQuickPick(items.map((i) => ({ ...i, description: i.metric === cur ? 'current' : undefined })), { title: 'Choose Metric to Paint' });
    if (!pick) return;
    metric = pick.metric;
  }
  if (metric === 'unit' && arg?.unit === undefined) {
    const heat = s.heatmap.current();
    const idx = heat ? heat.view.resolveSite(s.heatmap.choice.site) : -1;
    const units = heat && idx >= 0 ? heat.view.sites[idx].units : undefined;
    const v = await vscode.window.showInputBox({
      title: 'Choose Metric to Paint: unit',
      prompt: units ? `Unit index, 0 – ${units - 1}` : 'Unit index',
      value: String(unit),
      validateInput: (x) => (/^\d+$/.test(x) && (!units || Number(x) < units) ? undefined : units ? `A whole number from 0 to ${units - 1}` : 'A whole number'),
    });
    if (v === undefined) return;
    unit = Number(v);
  }
  await s.heatmap.setChoice({ ...s.heatmap.choice, metric, unit });
}

export async function toggleRoundedCommand(s: Services): Promise<void> {
  const c: PaintChoice = { ...s.heatmap.choice, rounded: !s.heatmap.choice.rounded };
  await s.heatmap.setChoice(c);
  vscode.window.setStatusBarMessage(c.rounded ? 'LearnedDropout: rounded mask (m ≥ 0.5 counts as active)' : 'LearnedDropout: soft mask (m in [0, 1])', 3000);
}
