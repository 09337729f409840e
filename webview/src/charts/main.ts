// Run charts webview entry: connects the typed channel and hands messages to the app.
import './charts.css';
import { connect } from '../common/vscodeApi';
import type { ChartsHostMessage, ChartsViewMessage } from '@common/webviewProtocol';
import { ChartsApp, type ChartsViewState } from './app';

let app: ChartsApp | undefined;
const channel = connect<ChartsHostMessage, ChartsViewMessage, ChartsViewState>({
  state: ({ state }) => {
    app!.setLogScales(state.logScale);
    app!.setRuns(state.runs);
    app!.setSelection(state.selected);
  },
  runs: ({ runs }) => app!.setRuns(runs),
  metrics: ({ runId, columns, replace }) => app!.setMetrics(runId, columns, replace),
  metric: ({ runId, records }) => app!.appendMetrics(runId, records),
  selection: ({ selected }) => app!.setSelection(selected),
  exportResult: (result) => app!.exportResult(result),
});
app = new ChartsApp(channel);
(window as unknown as { ldlensCharts: ChartsApp }).ldlensCharts = app;
channel.post({ type: 'ready' });
