/**
 * `npm run bench [-- [--quick] [--runs K] [--python PATH] [--no-build] [WORKLOAD…]]`
 *
 * Runs the benchmark suite: distml against scikit-learn, XGBoost, ml.js and TensorFlow.js, and
 * against the machine's own limits. Writes bench/results/full.json (quick.json with --quick),
 * regenerates docs/benchmarks.md and, after a full run, the headline block of README.md.
 *
 * `--docs-only` regenerates the docs from the results already in bench/results/.
 *
 * Workloads: limits, csv, logistic, svc, lsq, sgd, js-peers, small, cluster; `linear` selects logistic, svc
 * and lsq. Without names, all of them run. A run of some workloads replaces those sections of the
 * results file and keeps the others.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderDocs, updateReadme } from './docs.ts';
import type { BenchContext } from './lib/context.ts';
import { ROOT } from './lib/datasets.ts';
import { DEFAULT_PYTHON, detectPeers } from './lib/peers.ts';
import type { Machine, Section, SuiteResult } from './lib/results.ts';
import { clusterWorkload } from './workloads/cluster.ts';
import { csvWorkload } from './workloads/csv.ts';
import { jsPeersWorkload } from './workloads/js-peers.ts';
import { limitsWorkload } from './workloads/limits.ts';
import { leastSquaresWorkload, logisticWorkload, sgdWorkload, svcWorkload } from './workloads/linear.ts';
import { smallWorkloads } from './workloads/small.ts';

const WORKLOADS: Record<string, (ctx: BenchContext) => Section | Section[]> = {
  limits: limitsWorkload,
  csv: csvWorkload,
  logistic: logisticWorkload,
  svc: svcWorkload,
  lsq: leastSquaresWorkload,
  sgd: sgdWorkload,
  'js-peers': jsPeersWorkload,
  small: smallWorkloads,
  cluster: clusterWorkload,
};
const ALIASES: Record<string, string[]> = { linear: ['logistic', 'svc', 'lsq'], 'csv-read': ['csv'] };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    python: { type: 'string', default: process.env.DISTML_BENCH_PYTHON ?? DEFAULT_PYTHON },
    'no-build': { type: 'boolean', default: false },
    'docs-only': { type: 'boolean', default: false },
  },
});
const resultsDir = join(ROOT, 'bench/results');
if (values['docs-only']) {
  // Regenerate the docs from the results already written; measure nothing.
  writeDocs(undefined);
  process.exit(0);
}
const quick = values.quick;
const runs = values.runs === undefined ? (quick ? 1 : 3) : Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`npm run bench: --runs must be a positive integer, got '${values.runs}'\n`);
  process.exit(2);
}
const wanted = (positionals.length === 0 ? Object.keys(WORKLOADS) : positionals).flatMap(
  (n) => ALIASES[n] ?? [n],
);
for (const name of wanted) {
  if (WORKLOADS[name] === undefined) {
    const known = [...Object.keys(WORKLOADS), ...Object.keys(ALIASES)].join(', ');
    process.stderr.write(`npm run bench: unknown workload '${name}' (known: ${known})\n`);
    process.exit(2);
  }
}

const started = performance.now();
const startedAt = new Date().toISOString();
const flags = `${quick ? '--quick ' : ''}${values.runs === undefined ? '' : `--runs ${runs} `}`;
if (!values['no-build']) {
  // The suite runs the built CLI, as users do: build the current source first.
  process.stderr.write('npm run build …\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}
const peers = detectPeers(values.python);
for (const p of Object.values(peers)) {
  process.stderr.write(
    p.available ? `peer ${p.name} ${p.version}\n` : `peer ${p.name} SKIPPED: ${p.reason}\n`,
  );
}
const ctx: BenchContext = {
  quick,
  runs,
  python: values.python,
  peers,
  failures: [],
  commandFor: (w) => `npm run bench -- ${flags}${w}`,
};

const sections: Section[] = [];
let failed = false;
for (const name of wanted) {
  process.stderr.write(`${name} …\n`);
  try {
    const out = WORKLOADS[name]!(ctx);
    sections.push(...(Array.isArray(out) ? out : [out]));
  } catch (err) {
    failed = true;
    process.stderr.write(`${name} FAILED: ${(err as Error).stack ?? err}\n`);
  }
}

mkdirSync(resultsDir, { recursive: true });
const resultsFile = join(resultsDir, quick ? 'quick.json' : 'full.json');
const previous = existsSync(resultsFile)
  ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as SuiteResult)
  : undefined;
// Keep the sections of workloads this run did not select, in the suite's order.
const merged = [
  ...(previous?.sections ?? []).filter((s) => !sections.some((n) => n.id === s.id)),
  ...sections,
];
const order = (s: Section) => Object.keys(WORKLOADS).findIndex((w) => s.id === w || s.id.startsWith(`${w}-`));
merged.sort((a, b) => order(a) - order(b));
const result: SuiteResult = {
  schema: 1,
  quick,
  command: `npm run bench${flags === '' ? '' : ` -- ${flags.trim()}`}`,
  startedAt,
  totalSeconds: (performance.now() - started) / 1000,
  source: sourceState(),
  machine: machine(values.python),
  peers: Object.values(peers),
  sections: merged,
  ...(positionals.length === 0 ? {} : { ran: wanted }),
};
writeFileSync(resultsFile, `${JSON.stringify(result, null, 2)}\n`);
process.stderr.write(`wrote ${resultsFile}\n`);

writeDocs(result);
console.log(renderDocs(result));
const skipped = Object.values(peers).filter((p) => !p.available);
if (skipped.length > 0) {
  process.stderr.write(`skipped peers:\n${skipped.map((p) => `  ${p.name}: ${p.reason}\n`).join('')}`);
}
process.stderr.write(`total ${((performance.now() - started) / 60000).toFixed(1)} min\n`);
if (ctx.failures.length > 0) {
  process.stderr.write(`FAILURES:\n${ctx.failures.map((f) => `  ${f}\n`).join('')}`);
  failed = true;
}
if (failed) process.exitCode = 1;

/**
 * docs/benchmarks.md (and README's headline) from the full run when there is one; until then from
 * `latest` or quick.json, marked TODO(full run).
 */
function writeDocs(latest: SuiteResult | undefined): void {
  const read = (name: string) => {
    const file = join(resultsDir, name);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as SuiteResult) : undefined;
  };
  const forDocs = read('full.json') ?? latest ?? read('quick.json');
  if (forDocs === undefined) throw new Error('no results in bench/results/: run `npm run bench` first');
  writeFileSync(join(ROOT, 'docs/benchmarks.md'), renderDocs(forDocs));
  const readmePath = join(ROOT, 'README.md');
  writeFileSync(readmePath, updateReadme(readFileSync(readmePath, 'utf8'), forDocs));
  process.stderr.write(`regenerated docs/benchmarks.md from the ${forDocs.quick ? 'quick' : 'full'} run\n`);
}

function sourceState(): SuiteResult['source'] {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout ?? '';
  return {
    commit: git('log', '-1', '--format=%h %s').trim() || 'unknown',
    dirty: git('status', '--porcelain', '--', 'src', 'bench').trim() !== '',
  };
}

function machine(python: string): Machine {
  const m: Machine = {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.status === 0) m.gcc = gcc.stdout.split('\n')[0]!;
  const py = spawnSync(python, ['--version'], { encoding: 'utf8' });
  if (py.status === 0) m.python = `${py.stdout.trim().replace(/^Python /, '')} (${python})`;
  return m;
}
