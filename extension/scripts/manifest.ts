// The extension's fields of package.json (contributes, walkthroughs included, main,
// activationEvents, capabilities, extensionKind, icon, galleryBanner, categories, keywords),
// declared here and written into package.json by `npx tsx extension/scripts/manifest.ts --write`
// (other fields are left as they are).
// A unit test checks that package.json matches (extension/test/unit/manifest.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS } from '@common/config';
import { contributedColors, SCALE_NAMES } from '../src/heatmap/colors';
import { LEVELLINGS } from '../src/heatmap/levels';

const CATEGORY = 'LearnedDropout';

interface Cmd {
  command: string;
  title: string;
  icon?: string;
  enablement?: string;
  /** `when` of its commandPalette entry; 'false' hides it from the palette. */
  palette?: string;
}

export const COMMANDS: Cmd[] = [
  { command: 'ldlens.train', title: 'Train Model', icon: '$(play)', enablement: 'isWorkspaceTrusted && !ldlens.training', palette: 'isWorkspaceTrusted' },
  { command: 'ldlens.tryDemo', title: 'Try It on a Demo Corpus', icon: '$(beaker)', enablement: 'isWorkspaceTrusted && !ldlens.training', palette: 'isWorkspaceTrusted && workspaceFolderCount > 0' },
  { command: 'ldlens.stopTraining', title: 'Stop Training', icon: '$(debug-stop)', enablement: 'ldlens.training', palette: 'ldlens.training' },
  { command: 'ldlens.resumeTraining', title: 'Resume Training', icon: '$(debug-continue)', enablement: 'isWorkspaceTrusted && !ldlens.training', palette: 'isWorkspaceTrusted' },
  { command: 'ldlens.trainOnCluster', title: 'Train on a Cluster…', enablement: 'isWorkspaceTrusted', palette: 'isWorkspaceTrusted' },
  { command: 'ldlens.followRun', title: 'Follow Run Folder…', enablement: '!ldlens.training' },
  { command: 'ldlens.analyzeDocument', title: 'Analyze Document', icon: '$(symbol-color)', palette: 'editorIsOpen' },
  { command: 'ldlens.analyzeSelection', title: 'Analyze Selection', palette: 'editorHasSelection' },
  { command: 'ldlens.clearHeatmap', title: 'Clear Mask Heatmap', icon: '$(clear-all)', enablement: 'ldlens.heatmapVisible', palette: 'ldlens.heatmapVisible' },
  { command: 'ldlens.chooseSite', title: 'Choose Layer and Site to Paint', icon: '$(layers)' },
  { command: 'ldlens.chooseMetric', title: 'Choose Metric to Paint' },
  { command: 'ldlens.toggleRounded', title: 'Toggle Soft / Rounded Mask' },
  { command: 'ldlens.sample', title: 'Sample Text' },
  { command: 'ldlens.selectCheckpoint', title: 'Select Checkpoint' },
  { command: 'ldlens.openMaskExplorer', title: 'Open Mask Explorer', icon: '$(preview)' },
  { command: 'ldlens.openRunCharts', title: 'Open Run Charts', icon: '$(graph-line)' },
  { command: 'ldlens.installGpuBackend', title: 'Install GPU Backend', enablement: 'isWorkspaceTrusted', palette: 'isWorkspaceTrusted' },
  { command: 'ldlens.showEngineLog', title: 'Show Engine Log', icon: '$(output)' },
  { command: 'ldlens.restartEngine', title: 'Restart Engine' },
  { command: 'ldlens.unpinToken', title: 'Unpin Compared Token', palette: 'ldlens.hasPinnedToken' },
  // Hover command links (arguments come from the hover), not for the palette.
  { command: 'ldlens.openInMaskExplorer', title: 'Open Token in Mask Explorer', palette: 'false' },
  { command: 'ldlens.pinToken', title: 'Pin Token for Comparison', palette: 'false' },
];

const presetNames = Object.keys(PRESETS);

const configuration = {
  title: 'LearnedDropout Lens',
  properties: {
    'ldlens.engine.runtimePath': {
      type: 'string',
      default: '',
      scope: 'machine',
      markdownDescription:
        'Node.js (20 or newer) that runs the engine. Empty: a `node` found on `PATH`, else the runtime VS Code itself runs on (with `ELECTRON_RUN_AS_NODE`).',
    },
    'ldlens.engine.pythonPath': {
      type: 'string',
      default: '',
      scope: 'machine',
      markdownDescription:
        'Python (with PyTorch) for the `torch` backend. Empty: the Python extension\'s active environment when that extension is installed, else `LDLENS_PYTHON`, else `python3` on `PATH`. Takes effect when the engine restarts.',
    },
    'ldlens.engine.backend': {
      type: 'string',
      enum: ['auto', 'torch', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'],
      enumDescriptions: [
        'The fastest that loads: training in PyTorch (torch) where a Python with torch sees a CUDA or Apple MPS device, else tensorflow-gpu, then webgpu, then tensorflow, then wasm, then cpu.',
        'Training in PyTorch (`#ldlens.engine.pythonPath#` with torch installed), on CUDA, Apple MPS or the CPU; it writes the same run folder. Analysis and sampling stay in the engine (auto).',
        'Native TensorFlow with CUDA (`@tensorflow/tfjs-node-gpu`; see "LearnedDropout: Install GPU Backend").',
        'WebGPU through Dawn on the GPU\'s Vulkan, Metal or D3D12 driver (`webgpu` + `@tensorflow/tfjs-backend-webgpu`; see "LearnedDropout: Install GPU Backend").',
        'Native TensorFlow on the CPU (`@tensorflow/tfjs-node`).',
        'WebAssembly (bundled; no installation).',
        'Plain JavaScript (bundled; slowest).',
      ],
      default: 'auto',
      description: 'Compute backend of the engine. Takes effect when the engine restarts.',
    },
    'ldlens.training.preset': {
      type: 'string',
      enum: presetNames,
      enumDescriptions: presetNames.map((n) => PRESETS[n].description),
      default: 'tiny',
      description: 'Preset offered first by "Train Model".',
    },
    'ldlens.training.configFile': {
      type: 'string',
      default: '',
      markdownDescription: 'A JSON config file (workspace-relative or absolute) offered first by "Train Model" instead of a preset; merged over `#ldlens.training.preset#`.',
    },
    'ldlens.training.overrides': {
      type: 'object',
      default: {},
      markdownDescription:
        'Config values merged over the preset or config file for every run, e.g. `{"train": {"steps": 200}, "model": {"nLayer": 1}}`. Keys follow the engine\'s config (`model`, `dropout`, `train`, `tokenizer`).',
    },
    'ldlens.training.watchEditor': {
      type: 'boolean',
      default: true,
      description:
        'While training, re-analyze the selected text (or the active document) at every checkpoint and update its heatmap and the Mask Explorer in place.',
    },
    'ldlens.data.globs': {
      type: 'array',
      items: { type: 'string' },
      default: ['**/*.txt', '**/*.md'],
      description: 'Glob patterns (relative to the workspace folder) offered as the training corpus by "Train Model".',
    },
    'ldlens.runsDir': {
      type: 'string',
      default: '.ldlens/runs',
      description: 'Where runs and checkpoints are stored: relative to the first workspace folder, or absolute. Created on the first run.',
    },
    'ldlens.heatmap.colorScale': {
      type: 'string',
      enum: [...SCALE_NAMES],
      enumDescriptions: [
        'The theme colours `ldlens.heatmap.level0` … `level7` (customizable per theme in `workbench.colorCustomizations`).',
        'Viridis (perceptually uniform, colour-blind safe).',
        'Magma.',
        'Blue → grey → red (diverging).',
        'Greys.',
      ],
      default: 'theme',
      description: 'Colours of the mask heatmap, from the lowest to the highest value of the painted metric.',
    },
    'ldlens.heatmap.opacity': {
      type: 'number',
      default: 0.45,
      minimum: 0.05,
      maximum: 1,
      markdownDescription: 'Opacity of the heatmap backgrounds for the computed scales (the `theme` scale takes its alpha from the theme colours).',
    },
    'ldlens.heatmap.levels': {
      type: 'string',
      enum: [...LEVELLINGS],
      enumDescriptions: [
        'Each of the 8 colours holds about an eighth of the painted tokens: differences show even when a few tokens are extreme.',
        'Colours by standard deviations from the mean over the analyzed text (edges at ±0.5, ±1, ±1.5 sd).',
        'Equal steps from the lowest to the highest value.',
      ],
      default: 'quantile',
      description: 'How painted values are spread over the heatmap colours. The status-bar legend says which is in use.',
    },
    'ldlens.analysis.autoReanalyze': {
      type: 'string',
      enum: ['onEdit', 'onSave', 'off'],
      enumDescriptions: ['Re-analyze a painted document a moment after each edit.', 'Re-analyze when the document is saved.', 'Only on demand ("Analyze Document").'],
      default: 'onEdit',
      description: 'When a painted document is analyzed again after it changes. Until then, edited tokens are left unpainted.',
    },
    'ldlens.analysis.debounceMs': { type: 'number', default: 800, minimum: 100, description: 'Quiet time after the last edit before re-analysis (onEdit).' },
    'ldlens.analysis.window': {
      type: 'number',
      default: 0,
      minimum: 0,
      description: "Analysis window in tokens (each token sees at most this much left context); 0: the model's block size.",
    },
    'ldlens.analysis.stride': { type: 'number', default: 0, minimum: 0, description: 'Stride between analysis windows in tokens; 0: half the window.' },
    'ldlens.analysis.visibleRangeFirst': {
      type: 'number',
      default: 2000,
      minimum: 0,
      description: 'Documents longer than this many characters are painted visible lines first (analyzed first by the engine, no extra pass), then whole. 0: always in one pass.',
    },
  },
};

/**
 * Getting started (contributes.walkthroughs): from "train a tiny model" to "hover a token", one
 * button per step; the longer text of each step is media/walkthrough/<step>.md.
 */
export const WALKTHROUGH = {
  id: 'ldlens.gettingStarted',
  title: 'Get Started with Learned Dropout',
  description: 'Train a tiny model on your text, then see which units each token keeps.',
  steps: [
    {
      id: 'ldlens.trustWorkspace',
      title: 'Trust this workspace to train',
      description:
        'This workspace is in Restricted Mode: training and resuming write runs into it, so they need trust. Analyzing text with existing checkpoints, the heatmap, hovers and the Mask Explorer work without it.\n[Manage Workspace Trust](command:workbench.trust.manage)',
      media: { markdown: 'media/walkthrough/trust.md' },
      when: '!isWorkspaceTrusted',
      completionEvents: ['onContext:isWorkspaceTrusted'],
    },
    {
      id: 'ldlens.train',
      title: 'Train a tiny model',
      description:
        'Train the tiny preset on the built-in demo corpus (written into ldlens-demo/ in this folder), or open a text file of your own (prose, code, logs: a few tens of kilobytes is plenty) and train on it. Progress shows in the status bar.\n[Try It on a Demo Corpus](command:ldlens.tryDemo)\n[Train Model](command:ldlens.train)',
      media: { markdown: 'media/walkthrough/train.md' },
      completionEvents: ['onContext:ldlens.hasCheckpoint', 'onContext:ldlens.training'],
    },
    {
      id: 'ldlens.charts',
      title: 'Watch the run charts',
      description: 'Loss, mask entropy and L1, active units per layer and the penalty schedules, live while the model trains.\n[Open Run Charts](command:ldlens.openRunCharts)',
      media: { markdown: 'media/walkthrough/charts.md' },
      completionEvents: ['onView:ldlens.runCharts'],
    },
    {
      id: 'ldlens.analyze',
      title: 'Analyze a document',
      description: 'Paint the active editor: each token coloured by how many units its learned masks keep.\n[Analyze Document](command:ldlens.analyzeDocument)',
      media: { markdown: 'media/walkthrough/analyze.md' },
      completionEvents: ['onContext:ldlens.heatmapVisible'],
    },
    {
      id: 'ldlens.hover',
      title: 'Hover a token',
      description: 'Rest the mouse on a painted token: its active units at every layer and site, and its units as a strip. Links in the hover open it in the Mask Explorer or pin it for comparison.',
      media: { markdown: 'media/walkthrough/hover.md' },
      completionEvents: ['onCommand:ldlens.openInMaskExplorer', 'onCommand:ldlens.pinToken'],
    },
    {
      id: 'ldlens.explorer',
      title: 'Open the Mask Explorer',
      description: 'Every unit of every token as a heatmap; compare two tokens, scrub through checkpoints, export PNG, SVG, CSV or JSON.\n[Open Mask Explorer](command:ldlens.openMaskExplorer)',
      media: { markdown: 'media/walkthrough/explorer.md' },
      completionEvents: ['onCommand:ldlens.openMaskExplorer', 'onCommand:ldlens.openInMaskExplorer'],
    },
  ],
};

export function manifestFields() {
  const palette = COMMANDS.filter((c) => c.palette !== undefined).map((c) => ({ command: c.command, when: c.palette }));
  return {
    main: './dist/extension/extension.js',
    icon: 'media/icon.png',
    categories: ['Machine Learning', 'Visualization', 'Data Science'],
    keywords: ['dropout', 'learned dropout', 'transformer', 'nanoGPT', 'interpretability', 'heatmap', 'mask'],
    galleryBanner: { color: '#1e1e2e', theme: 'dark' },
    extensionKind: ['workspace'],
    activationEvents: ['onWebviewPanel:ldlens.maskExplorer'],
    capabilities: {
      virtualWorkspaces: { supported: false, description: 'The engine reads the corpus and writes runs on the local file system.' },
      untrustedWorkspaces: {
        supported: 'limited',
        description:
          'In an untrusted workspace only the read-only features work: analyzing documents with existing checkpoints, heatmaps, hovers, the Mask Explorer and run charts. Training, resuming and installing a backend need trust, and workspace values of the runtime, runs folder, config file and data globs are ignored.',
        restrictedConfigurations: ['ldlens.engine.runtimePath', 'ldlens.runsDir', 'ldlens.training.configFile', 'ldlens.data.globs', 'ldlens.training.overrides'],
      },
    },
    contributes: {
      commands: COMMANDS.map((c) => ({ command: c.command, title: c.title, category: CATEGORY, ...(c.icon ? { icon: c.icon } : {}), ...(c.enablement ? { enablement: c.enablement } : {}) })),
      menus: {
        commandPalette: palette,
        'editor/context': [
          { command: 'ldlens.analyzeSelection', when: 'editorHasSelection', group: 'ldlens@1' },
          { command: 'ldlens.analyzeDocument', when: '!editorHasSelection', group: 'ldlens@1' },
          { command: 'ldlens.clearHeatmap', when: 'ldlens.heatmapVisible', group: 'ldlens@2' },
        ],
        'view/title': [
          { command: 'ldlens.train', when: 'view == ldlens.runCharts && !ldlens.training', group: 'navigation@1' },
          { command: 'ldlens.stopTraining', when: 'view == ldlens.runCharts && ldlens.training', group: 'navigation@1' },
          { command: 'ldlens.openMaskExplorer', when: 'view == ldlens.runCharts', group: 'navigation@2' },
          { command: 'ldlens.resumeTraining', when: 'view == ldlens.runCharts', group: 'ldlens@1' },
          { command: 'ldlens.selectCheckpoint', when: 'view == ldlens.runCharts', group: 'ldlens@2' },
          { command: 'ldlens.showEngineLog', when: 'view == ldlens.runCharts', group: 'ldlens@3' },
        ],
      },
      viewsContainers: { activitybar: [{ id: 'ldlens', title: 'LearnedDropout', icon: 'media/ldlens.svg' }] },
      views: { ldlens: [{ type: 'webview', id: 'ldlens.runCharts', name: 'Run Charts' }] },
      configuration,
      colors: contributedColors().map((c) => ({ id: c.id, description: c.description, defaults: c.defaults })),
      walkthroughs: [WALKTHROUGH],
    },
  };
}

if (process.argv.includes('--write')) {
  const path = join(__dirname, '../../package.json');
  const pkg = JSON.parse(readFileSync(path, 'utf8'));
  Object.assign(pkg, manifestFields());
  writeFileSync(path, JSON.stringify(pkg, null, 2) + '\n');
  console.log('package.json: extension fields written');
}
