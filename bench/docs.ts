/**
 * Turns a results JSON (bench/lib/results.ts) into docs/benchmarks.md and the headline block of
 * README.md. Pure functions of the results, so a fixture pins the output (test/bench/docs.test.ts).
 *
 * Ratios are a system's time divided by distml's (the workload's reference row): above 1 the
 * system is slower than distml, below 1 faster. They are computed here, never stored.
 */
import type {
  LimitsSection,
  MeasuresSection,
  SuiteResult,
  SystemRow,
  SystemsSection,
} from './lib/results.ts';

/** The marker a page carries while its figures are not yet from a full run. */
export const TODO_FULL_RUN = 'TODO(full run)';

const README_START = '<!-- bench:headline:start -->';
const README_END = '<!-- bench:headline:end -->';

function num(x: number | undefined, digits = 2): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(Math.min(digits, 1));
  return x.toFixed(digits);
}

function seconds(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return x < 0.1 ? x.toPrecision(2) : num(x);
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '—' : `${Math.round(bytes / 2 ** 20)} MiB`;
}

function ratio(x: number | undefined, ref: number | undefined): string {
  if (x === undefined || ref === undefined || !(ref > 0)) return '—';
  return `${(x / ref).toFixed(2)}×`;
}

function score(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(4);
}

/** Text safe inside a table cell: a pipe would end the cell, a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** The markdown table of a systems section. */
export function systemsTable(s: SystemsSection): string {
  const ref = s.rows.find((r) => r.id === s.reference);
  const time = (r: SystemRow | undefined) => r?.[s.timeField];
  const timeName = s.timeLabel ?? (s.timeField === 'wallSeconds' ? 'wall s' : 'fit s');
  const lines = [
    `| system | settings | ${timeName} | ${timeName.split(' ')[0]} ÷ distml | predict s | peak memory | memory ÷ distml | ${s.scoreName} | iterations | runs |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of s.rows) {
    if (r.skipped !== undefined) {
      lines.push(`| ${cell(r.system)} | skipped: ${cell(r.skipped)} | — | — | — | — | — | — | — | 0 |`);
      continue;
    }
    lines.push(
      `| ${cell(r.system)} | ${cell(r.settings ?? '')} | ${seconds(time(r))} | ${ratio(time(r), time(ref))} | ` +
        `${seconds(r.predictSeconds)} | ${mib(r.peakRssBytes)} | ${ratio(r.peakRssBytes, ref?.peakRssBytes)} | ` +
        `${score(r.score)} | ${r.iterations ?? '—'} | ${r.runs} |`,
    );
  }
  return lines.join('\n');
}

/** "2 workers over 1: 1.68×, over inline: 1.36×" when the section has the three distml rows. */
export function scalingLine(s: SystemsSection): string | undefined {
  const t = (id: string) => s.rows.find((r) => r.id === id && r.skipped === undefined)?.[s.timeField];
  const [inline, one, two] = [t('distml-0'), t('distml-1'), t('distml-2')];
  if (two === undefined || one === undefined || inline === undefined) return undefined;
  return (
    `2-worker scaling: ${(one / two).toFixed(2)}× the speed of 1 worker, ` +
    `${(inline / two).toFixed(2)}× the speed of the inline engine.`
  );
}

/** The markdown of the limits section: the limits table, then the kernels as fractions of them. */
export function limitsTables(s: LimitsSection): string {
  const lines = [
    '| limit | C, 1 thread | C, 2 threads | JS, 1 thread | unit | measured on |',
    '| --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const l of s.limits) {
    lines.push(`| ${l.measure} | ${num(l.c1)} | ${num(l.c2)} | ${num(l.js1)} | ${l.unit} | ${l.detail} |`);
  }
  const bw = s.limits.find((l) => l.measure === 'stream read');
  const gemm = s.limits.find((l) => l.measure === 'dense GEMM');
  const blas = s.limits.find((l) => l.measure === 'dense GEMM, numpy BLAS');
  lines.push(
    '',
    '| distml kernel (1 thread) | shape | s/pass | GB/s read | GFLOP/s | bound by | ÷ C limit | ÷ JS limit | ÷ BLAS GEMM |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  );
  for (const k of s.kernels) {
    const memoryBound = k.boundBy === 'bandwidth';
    const [achieved, limit] = memoryBound ? [k.bytesPerSecond / 1e9, bw] : [k.flopsPerSecond / 1e9, gemm];
    const frac = (x: number | undefined) => (x === undefined ? '—' : `${((achieved / x) * 100).toFixed(0)}%`);
    lines.push(
      `| \`${k.kernel}\` | ${k.shape} | ${seconds(k.seconds)} | ${num(k.bytesPerSecond / 1e9)} | ` +
        `${num(k.flopsPerSecond / 1e9)} | ${memoryBound ? 'stream read' : 'dense GEMM'} | ` +
        `${frac(limit?.c1)} | ${frac(limit?.js1)} | ${memoryBound ? '—' : frac(blas?.c1)} |`,
    );
  }
  return lines.join('\n');
}

/** The markdown table of a measures section: each figure beside its goal. */
export function measuresTable(s: MeasuresSection): string {
  const lines = ['| measure | value | goal | met | how |', '| --- | ---: | --- | --- | --- |'];
  for (const r of s.rows) {
    const value =
      r.unit === '×'
        ? `${r.value.toFixed(2)}×`
        : r.unit === 'ms'
          ? `${num(r.value, 1)} ms`
          : `${seconds(r.value)} s`;
    const met = r.met === undefined ? '' : r.met ? 'yes' : '**no**';
    lines.push(`| ${cell(r.measure)} | ${value} | ${cell(r.goal ?? '')} | ${met} | ${cell(r.detail)} |`);
  }
  return lines.join('\n');
}

/** One line per workload with a headline peer: how that peer's time compares with distml's. */
export function headlines(r: SuiteResult): string[] {
  const out: string[] = [];
  for (const s of r.sections) {
    if (s.kind !== 'systems' || s.headline === undefined) continue;
    const ref = s.rows.find((x) => x.id === s.reference);
    const peer = s.rows.find((x) => x.id === s.headline);
    if (ref === undefined || peer === undefined) continue;
    if (ref.skipped !== undefined) {
      out.push(`${s.title}: ${ref.system} skipped (${ref.skipped}).`);
      continue;
    }
    if (peer.skipped !== undefined) {
      out.push(`${s.title}: ${peer.system} skipped (${peer.skipped}).`);
      continue;
    }
    const a = peer[s.timeField];
    const b = ref[s.timeField];
    if (a === undefined || b === undefined) continue;
    const what =
      s.timeLabel !== undefined ? 'time' : s.timeField === 'wallSeconds' ? 'wall time' : 'fit time';
    const scores =
      peer.score === undefined ? '' : `; ${s.scoreName} ${score(peer.score)} against ${score(ref.score)}`;
    out.push(
      `${s.title}: ${peer.system} takes ${(a / b).toFixed(2)}× the ${what} of ${ref.system} ` +
        `(${seconds(a)} s against ${seconds(b)} s${scores}).`,
    );
  }
  return out;
}

function machineLines(r: SuiteResult): string[] {
  const m = r.machine;
  const peers = r.peers.map((p) =>
    p.available ? `${p.name} ${p.version ?? '?'}` : `${p.name}: skipped (${p.reason ?? 'absent'})`,
  );
  return [
    `- CPU: ${m.cpuModel}, ${m.cores} cores; memory ${Math.round(m.memoryBytes / 2 ** 30)} GiB; ${m.platform}`,
    `- Node ${m.node}${m.python === undefined ? '' : `; Python ${m.python}`}${m.gcc === undefined ? '' : `; ${m.gcc}`}`,
    `- Peers: ${peers.join('; ')}`,
    `- Source: ${r.source.commit}${r.source.dirty ? ' (with uncommitted changes)' : ''}; run started ${r.startedAt}, took ${(r.totalSeconds / 60).toFixed(1)} min` +
      (r.ran === undefined
        ? ''
        : ` and measured only ${r.ran.join(', ')}; the other sections come from earlier runs`),
  ];
}

/**
 * docs/benchmarks.md for a run. A `--quick` run's page marks every generated part TODO(full run):
 * its sizes are small and its figures are a smoke test, not a comparison.
 */
export function renderDocs(r: SuiteResult): string {
  const todo = r.quick
    ? `**${TODO_FULL_RUN}:** the figures below come from \`${r.command}\` (small sizes, few runs), ` +
      'which proves the suite runs; they are not the comparison. Run `npm run bench` on a quiet machine to ' +
      'replace this page.'
    : undefined;
  const out: string[] = [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` (bench/docs.ts) from bench/results/. Do not edit by hand. -->',
    '',
    'distml against scikit-learn, XGBoost, ml.js and TensorFlow.js on the same data, split and',
    "hyperparameters, and against the machine's own limits, in one run. Times are medians; ratios",
    "are a system's time (or memory) divided by distml's on 2 workers: above 1 the system is slower",
    '(or larger). Peak memory is the peak resident set of the whole process (GNU time `%M`),',
    'including its data. Test scores sit beside the times, so speed is never bought with accuracy.',
    'The Python peers use both cores where their libraries do (OpenBLAS threads by default, XGBoost',
    "with n_jobs = cores). Each distml row runs the built CLI in a fresh process; 'fit' is its report's",
    "fit time, which excludes reading the file, as the peers' fit times do. Its predict time is the",
    "report's too: preprocessing the test rows, predicting and scoring them; the peers' is `predict()`",
    'on arrays already prepared.',
    '',
  ];
  if (todo !== undefined) out.push(todo, '');
  out.push('## Machine', '', ...machineLines(r), '', `Reproduce the whole page with \`${r.command}\`.`, '');
  const heads = headlines(r);
  if (heads.length > 0) out.push('## Headline', '', ...heads.map((h) => `- ${h}`), '');
  for (const s of r.sections) {
    out.push(`## ${s.title}`, '');
    if (todo !== undefined) out.push(`${TODO_FULL_RUN}: smoke-test figures from a \`--quick\` run.`, '');
    for (const p of s.about) out.push(p, '');
    if (s.kind === 'systems') {
      out.push(`Data: ${s.data}`, '', `Reproduce with \`${s.command}\`.`, '', systemsTable(s), '');
      const scaling = scalingLine(s);
      if (scaling !== undefined) out.push(scaling, '');
    } else if (s.kind === 'measures') {
      out.push(`Reproduce with \`${s.command}\`.`, '', measuresTable(s), '');
    } else {
      out.push(`Reproduce with \`${s.command}\`.`, '', limitsTables(s), '');
    }
    if (s.notes.length > 0) out.push(...s.notes.map((n) => `- ${n}`), '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/**
 * README.md with its headline block (between the bench:headline markers) rewritten for a full run
 * `r`; unchanged for a `--quick` run.
 */
export function updateReadme(readme: string, r: SuiteResult): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) return readme;
  // A quick run's figures are a smoke test: the README keeps the last full run's headline.
  const lines = headlines(r).map((h) => `- ${h}`);
  if (r.quick || lines.length === 0) return readme;
  const body = [
    `Measured by \`${r.command}\` on ${r.machine.cores} cores (${r.machine.cpuModel}); each ratio is the ` +
      "peer's time over distml's:",
    '',
    ...lines,
  ].join('\n');
  return `${readme.slice(0, start + README_START.length)}\n${body}\n${readme.slice(end)}`;
}
