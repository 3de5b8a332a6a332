/**
 * `distml inspect MODEL [--json]`: what a model file holds, read from its header alone.
 */
import { Command } from 'commander';
import { readModelFile, readModelHeader } from '../../io/model-file.ts';
import { parseModelMeta } from '../../pipeline/model-meta.ts';
import { formatTable } from '../output.ts';

/** The `inspect` subcommand. */
export function inspectCommand(): Command {
  return new Command('inspect')
    .description("Show a model file's header: model, parameters, schema, preprocessing, metrics, tensors")
    .argument('<model>', 'model file written by distml train --save')
    .option('--json', 'print the whole header as JSON')
    .option('--weights', 'also print every learned weight by feature (reads and verifies the whole file)')
    .option('--verbose', 'print stack traces of errors')
    .action(async (modelPath: string, opts: { json?: boolean; weights?: boolean }) => {
      const header = await readModelHeader(modelPath);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(header, null, 2)}\n`);
        return;
      }
      const meta = parseModelMeta(header.meta, modelPath);
      const rows: Array<[string, string | number]> = [
        ['model', header.kind],
        ['task', meta.task],
        [
          'format',
          `distml-model v${header.formatVersion}, written by distml ${header.distmlVersion} at ${header.createdAt}`,
        ],
        ['target', meta.target],
      ];
      if (meta.labels) rows.push(['classes', meta.labels.classes.join(', ')]);
      rows.push([
        'params',
        Object.entries(header.params)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ') || '(none)',
      ]);
      rows.push(['inputs', meta.schema.map((f) => `${f.name}:${f.kind}`).join(', ')]);
      for (const step of meta.preprocessing.steps) {
        rows.push([
          `  ${step.name}`,
          step.kind === 'number'
            ? `fill missing with ${fmt(step.fill)}${step.scale !== 1 || step.center !== 0 ? `, standardize (center ${fmt(step.center)}, scale ${fmt(step.scale)})` : ''}`
            : `one-hot over ${step.levels.length} levels${step.dropFirst ? ' (first dropped)' : ''}, fill missing with '${step.fill}'`,
        ]);
      }
      rows.push(['features', `${meta.shape.features} after preprocessing`]);
      if (meta.fit.iterations !== undefined) {
        rows.push([
          'fit',
          `${meta.fit.iterations} iteration(s), ${meta.fit.converged ? 'converged' : `not converged (${meta.fit.reason ?? '?'})`}`,
        ]);
      }
      for (const [k, v] of Object.entries(meta.metrics ?? {})) rows.push([`metric ${k}`, v]);
      for (const [name, t] of Object.entries(header.tensors)) {
        rows.push([`tensor ${name}`, `${t.dtype}[${t.shape.join('×')}] sha256 ${t.sha256.slice(0, 12)}…`]);
      }
      process.stdout.write(formatTable(rows));
      if (opts.weights) process.stdout.write(weightsTable(await readModelFile(modelPath), meta));
    });
}

/**
 * Learned weights by feature: for linear models a row per feature (plus the intercept) and a column
 * per coefficient row (one per class for one-vs-rest and multinomial models, one otherwise).
 */
function weightsTable(
  contents: Awaited<ReturnType<typeof readModelFile>>,
  meta: ReturnType<typeof parseModelMeta>,
): string {
  const coef = contents.tensors.coef;
  const intercept = contents.tensors.intercept;
  const names = meta.preprocessing.outputNames;
  if (coef === undefined) {
    return `\n${Object.keys(contents.tensors).join(', ')}: no per-feature weights to show\n`;
  }
  const d = names.length;
  const r = coef.data.length / d;
  const heads =
    r === 1
      ? [meta.labels ? `class ${meta.labels.classes[1]}` : meta.target]
      : (meta.labels?.classes ?? []).slice(0, r).map((c) => `class ${c}`);
  const width = Math.max(9, ...names.map((n) => n.length));
  const column = Math.max(14, ...heads.map((h) => h.length + 2));
  const cell = (v: number) => v.toPrecision(6).padStart(column);
  const lines = [`\n${'feature'.padEnd(width)}${heads.map((h) => h.padStart(column)).join('')}`];
  for (let j = 0; j < d; j++) {
    let line = names[j]!.padEnd(width);
    for (let c = 0; c < r; c++) line += cell(coef.data[c * d + j]!);
    lines.push(line);
  }
  if (intercept !== undefined) {
    let line = '(intercept)'.padEnd(width);
    for (let c = 0; c < intercept.data.length; c++) line += cell(intercept.data[c]!);
    lines.push(line);
  }
  const scaled = meta.preprocessing.steps.some(
    (s) => s.kind === 'number' && (s.scale !== 1 || s.center !== 0),
  );
  if (scaled) lines.push('(weights apply to standardized features; see the preprocessing above)');
  return `${lines.join('\n')}\n`;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6);
}
