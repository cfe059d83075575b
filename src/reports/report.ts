// `ctxbench report`: reads the store, builds every chart and table, and writes them to one folder:
// index.html (self-contained: SVG inline, no scripts fetched), charts/<id>.{svg,png,vl.json}, tables/<id>.{csv,json,md},
// leaderboards.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  coverageSpec, EFFICIENCY_FIELDS, efficiencySpec, mmluProSpec, scoreCurveSpec, slopeSpec, type ChartSpec,
} from './charts.js';
import { degradationSlopes, mrcrPanels, rulerPanels } from './curves.js';
import { efficiencyPoints } from './efficiency.js';
import {
  coverageTable, efficiencyTable, mmluProLeaderboard, mrcrLeaderboard, rulerLeaderboard, slopeTable, type Table,
} from './leaderboards.js';
import type { ReportData } from './load.js';
import { mmluProView } from './mmlu-pro-view.js';
import { renderChart } from './render.js';
import { htmlEscape, tableCsv, tableHtml, tableJson, tableMarkdown } from './table-formats.js';
import { BOOTSTRAP_RESAMPLES, DEFAULT_BOOTSTRAP_SEED } from './stats.js';

export interface ChartFile {
  id: string;
  title: string;
  section: string;
  svgPath: string;
  pngPath: string;
  warnings: string[];
}

export interface ReportOutput {
  dir: string;
  indexPath: string;
  charts: ChartFile[];
  tables: Table[];
}

interface PlannedChart extends ChartSpec {
  section: string;
}

/**
 * A chart id is a file name under charts/ and a link in index.html, but part of it (a RULER subtask, an MRCR needle
 * count) comes from the store: anything but [A-Za-z0-9._-] becomes "_", so "../x" cannot leave the folder, and a
 * clash after that gets a numbered suffix rather than overwriting another chart's files.
 */
function fileId(id: string, taken: Set<string>): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\./, '_');
  let unique = safe;
  for (let k = 2; taken.has(unique); k++) unique = `${safe}-${k}`;
  return unique;
}

/** Every chart and table the data supports; charts come out in reading order. */
export function planReport(data: ReportData): { charts: PlannedChart[]; tables: Table[] } {
  const mrcr = mrcrPanels(data);
  const ruler = rulerPanels(data);
  const mmlu = mmluProView(data);
  const efficiency = efficiencyPoints(data);
  const curvePanels = [...mrcr.panels, ...ruler.panels];
  const slopes = degradationSlopes(curvePanels);
  const charts: PlannedChart[] = [];
  const add = (section: string, chart: ChartSpec | null) => {
    if (chart) charts.push({ ...chart, id: fileId(chart.id, new Set(charts.map((c) => c.id))), section });
  };
  for (const panel of mrcr.panels) add('MRCR', scoreCurveSpec(panel));
  for (const panel of ruler.panels) add('RULER', scoreCurveSpec(panel));
  add('Degradation', slopeSpec(slopes));
  add('MMLU-Pro', mmluProSpec(mmlu.points));
  for (const field of EFFICIENCY_FIELDS) add('Efficiency', efficiencySpec(efficiency, field));
  add('Coverage', coverageSpec(curvePanels));
  const tables = [
    mrcrLeaderboard(mrcr.aggregates), ...rulerLeaderboard(ruler.aggregates), ...mmluProLeaderboard(mmlu.aggregates, mmlu.points),
    efficiencyTable(efficiency), slopeTable(slopes), coverageTable(curvePanels),
  ].filter((t): t is Table => t !== null);
  return { charts, tables };
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1.5rem;color:#1d1d1f}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;margin-top:2.5rem}.meta{color:#555}
figure{margin:1.2rem 0;padding:.5rem;border:1px solid #eee;border-radius:6px;display:inline-block;vertical-align:top}
figcaption{font-size:12px;color:#555}figure svg{max-width:100%;height:auto}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12.5px}th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4}
th{background:#f6f6f6;text-align:left;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.na{color:#aaa}.note{color:#555;font-size:12.5px;max-width:70em}nav a{margin-right:1em}`;

// Counts the marks each chart actually drew (non-zero boxes), so a headless browser can confirm rendering.
const MARK_PROBE = `document.querySelectorAll('figure[data-chart]').forEach(function(f){var n=0;
f.querySelectorAll('g.role-mark path, g.role-mark line, g.role-mark rect, g.role-mark text').forEach(function(e){
var b=e.getBBox();if(b.width>0||b.height>0)n++;});f.setAttribute('data-visible-marks',String(n));});
document.body.setAttribute('data-probed','1');`;

function indexHtml(data: ReportData, charts: (PlannedChart & { svg: string })[], tables: Table[], generatedAt: string): string {
  const sections = [...new Set(charts.map((c) => c.section))];
  const runs = data.runs.map((r) => `<li><b>${htmlEscape(r.name)}</b>: ${htmlEscape(r.model)} via ${htmlEscape(r.backend)}`
    + `${r.device ? ` on ${htmlEscape(r.device)}` : ''}${r.git_commit ? `, commit ${htmlEscape(r.git_commit.slice(0, 12))}` : ''}</li>`).join('');
  const chartHtml = sections.map((section) => `<h2 id="${htmlEscape(section.toLowerCase())}">${htmlEscape(section)}</h2>\n`
    + charts.filter((c) => c.section === section).map((c) => `<figure data-chart="${htmlEscape(c.id)}">${c.svg}`
      + `<figcaption>${htmlEscape(c.title)} · <a href="charts/${c.id}.svg">SVG</a> · <a href="charts/${c.id}.png">PNG</a>`
      + ` · <a href="charts/${c.id}.vl.json">vega-lite spec</a></figcaption></figure>`).join('\n')).join('\n');
  const tableHtmlAll = tables.map((t) => `${tableHtml(t)}<p class="note"><a href="tables/${t.id}.csv">CSV</a> · <a href="tables/${t.id}.json">JSON</a></p>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ctxbench report</title><style>${STYLE}</style></head>
<body>
<h1>ctxbench report</h1>
<p class="meta">Store ${htmlEscape(data.dbPath)} · generated ${htmlEscape(generatedAt)} · curves average scored samples only; errors and
too-long skips are counted in Coverage · intervals: ${BOOTSTRAP_RESAMPLES}-resample percentile bootstrap (seed ${DEFAULT_BOOTSTRAP_SEED}),
Wilson for MMLU-Pro accuracy.</p>
<ul>${runs}</ul>
<nav>${sections.map((s) => `<a href="#${htmlEscape(s.toLowerCase())}">${htmlEscape(s)}</a>`).join('')}<a href="#tables">Tables</a></nav>
${chartHtml}
<h2 id="tables">Tables</h2>
${tableHtmlAll}
<script>${MARK_PROBE}</script>
</body></html>
`;
}

export async function writeReport(data: ReportData, outDir: string, generatedAt = new Date().toISOString()): Promise<ReportOutput> {
  const dir = resolve(outDir);
  mkdirSync(join(dir, 'charts'), { recursive: true });
  mkdirSync(join(dir, 'tables'), { recursive: true });
  const plan = planReport(data);
  const rendered: (PlannedChart & { svg: string })[] = [];
  const files: ChartFile[] = [];
  for (const chart of plan.charts) {
    const out = await renderChart(chart.spec);
    const svgPath = join(dir, 'charts', `${chart.id}.svg`);
    const pngPath = join(dir, 'charts', `${chart.id}.png`);
    writeFileSync(svgPath, out.svg);
    writeFileSync(pngPath, out.png);
    writeFileSync(join(dir, 'charts', `${chart.id}.vl.json`), `${JSON.stringify(chart.spec, null, 2)}\n`);
    rendered.push({ ...chart, svg: out.svg });
    files.push({ id: chart.id, title: chart.title, section: chart.section, svgPath, pngPath, warnings: out.warnings });
  }
  for (const table of plan.tables) {
    writeFileSync(join(dir, 'tables', `${table.id}.csv`), tableCsv(table));
    writeFileSync(join(dir, 'tables', `${table.id}.json`), tableJson(table));
    writeFileSync(join(dir, 'tables', `${table.id}.md`), tableMarkdown(table));
  }
  writeFileSync(join(dir, 'leaderboards.md'), `# ctxbench leaderboards\n\n${plan.tables.map(tableMarkdown).join('\n')}`);
  const indexPath = join(dir, 'index.html');
  writeFileSync(indexPath, indexHtml(data, rendered, plan.tables, generatedAt));
  return { dir, indexPath, charts: files, tables: plan.tables };
}
