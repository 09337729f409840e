// Mask Explorer webview entry: connects the typed channel and hands messages to the app.
import './explorer.css';
import { connect } from '../common/vscodeApi';
import type { ExplorerHostMessage, ExplorerViewMessage } from '@common/webviewProtocol';
import { ExplorerApp } from './app';
import type { ExplorerViewState } from './viewState';

let app: ExplorerApp | undefined;
const channel = connect<ExplorerHostMessage, ExplorerViewMessage, ExplorerViewState>({
  state: ({ state }) => {
    app!.setCheckpoints(state.checkpoints);
    app!.setLiveRunning(state.live);
    if (state.analysis) app!.setAnalysis(state.analysis, state.source);
    if (state.selectedToken !== null) app!.selectFromHost(state.selectedToken);
  },
  analysis: ({ analysis, source }) => app!.setAnalysis(analysis, source),
  liveAnalysis: ({ analysis }) => app!.liveAnalysis(analysis),
  checkpoints: ({ checkpoints }) => app!.setCheckpoints(checkpoints),
  selectToken: ({ index }) => app!.selectFromHost(index),
  scrubAnalysis: (reply) => app!.hostReply(reply),
  report: (reply) => app!.hostReply(reply),
  exportResult: (result) => app!.exportResult(result),
});
app = new ExplorerApp(channel);
(window as unknown as { ldlensExplorer: ExplorerApp }).ldlensExplorer = app;
channel.post({ type: 'ready' });
