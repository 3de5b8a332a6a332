/**
 * The benchmark report generator (bench/docs.ts) and peer detection (bench/lib/peers.ts). The
 * expected tables were worked out by hand from the fixture: ratios are a row's time (or memory)
 * over the reference row's (distml on 2 workers), e.g. scikit-learn's 5 s / 2 s = 2.50×.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  headlines,
  limitsTables,
  renderDocs,
  systemsTable,
  TODO_FULL_RUN,
  updateReadme,
} from '../../bench/docs.ts';
import { probeNode, probePython } from '../../bench/lib/peers.ts';
import type { LimitsSection, SuiteResult, SystemsSection } from '../../bench/lib/results.ts';

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/results.json', import.meta.url), 'utf8'),
) as SuiteResult;
const systems = fixture.sections[0] as SystemsSection;
const limits = fixture.sections[1] as LimitsSection;

test('a systems section becomes one table with ratios against distml on 2 workers', () => {
  assert.equal(
    systemsTable(systems),
    [
      '| system | settings | fit s | fit ÷ distml | predict s | peak memory | memory ÷ distml | test accuracy | iterations | runs |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| distml, inline | L-BFGS | 4.00 | 2.00× | 0.50 | 100 MiB | 1.00× | 0.8500 | 16 | 3 |',
      '| distml, 1 worker | L-BFGS | 3.00 | 1.50× | 0.50 | 100 MiB | 1.00× | 0.8500 | 16 | 3 |',
      '| distml, 2 workers | L-BFGS | 2.00 | 1.00× | 0.25 | 100 MiB | 1.00× | 0.8500 | 16 | 3 |',
      '| scikit-learn 1.2.1 | lbfgs | 5.00 | 2.50× | 0.050 | 150 MiB | 1.50× | 0.8512 | 17 | 3 |',
      "| XGBoost | skipped: No module named 'xgboost' | — | — | — | — | — | — | — | 0 |",
    ].join('\n'),
  );
});

test('the limits section holds each kernel against the limit that bounds it', () => {
  // 5 GB/s over the 20 GB/s C stream read is 25%, over JS's 16 GB/s 31%;
  // 2 GFLOP/s over the 8 GFLOP/s C GEMM is 25%, over JS's 4 GFLOP/s 50%.
  const tables = limitsTables(limits).split('\n');
  assert.deepEqual(tables.slice(2, 4), [
    '| stream read | 20.0 | 30.0 | 16.0 | GB/s | 256 MiB |',
    '| dense GEMM | 8.00 | — | 4.00 | GFLOP/s | 1024² |',
  ]);
  assert.deepEqual(tables.slice(7), [
    '| `logistic.lossGradient` | 400,000 × 50 | 0.20 | 5.00 | 0.40 | stream read | 25% | 31% | — |',
    '| `linear.normalEquations` | 200,000 × 100 | 1.00 | 0.16 | 2.00 | dense GEMM | 25% | 50% | — |',
  ]);
});

test('the page carries the machine, the command, the headline and the scaling', () => {
  const page = renderDocs(fixture);
  assert.match(page, /- CPU: Test CPU, 2 cores; memory 24 GiB; linux-x64/);
  assert.match(page, /XGBoost: skipped \(No module named 'xgboost'\)/);
  assert.match(page, /Reproduce with `npm run bench -- logistic`\./);
  assert.match(
    page,
    /2-worker scaling: 1\.50× the speed of 1 worker, 2\.00× the speed of the inline engine\./,
  );
  assert.ok(page.includes(systemsTable(systems)));
  assert.ok(!page.includes(TODO_FULL_RUN), 'a full run has no TODO markers');
  assert.deepEqual(headlines(fixture), [
    'Logistic regression, 1,000 × 5: scikit-learn 1.2.1 takes 2.50× the fit time of distml, 2 workers ' +
      '(5.00 s against 2.00 s; test accuracy 0.8512 against 0.8500).',
  ]);
});

test('a quick run is marked TODO(full run) and leaves the README alone', () => {
  const quick: SuiteResult = { ...fixture, quick: true, command: 'npm run bench -- --quick' };
  assert.match(renderDocs(quick), /\*\*TODO\(full run\):\*\*/);
  const readme = 'intro\n<!-- bench:headline:start -->\nold\n<!-- bench:headline:end -->\nrest\n';
  assert.equal(updateReadme(readme, quick), readme);
  const full = updateReadme(readme, fixture);
  assert.match(full, /<!-- bench:headline:start -->\nMeasured by `npm run bench` on 2 cores \(Test CPU\)/);
  assert.match(full, /- Logistic regression, 1,000 × 5: scikit-learn 1\.2\.1 takes 2\.50×/);
  assert.match(full, /<!-- bench:headline:end -->\nrest\n$/);
});

test('a missing python module, interpreter or node package is reported as skipped, with the fix', () => {
  const missing = probePython(
    '/usr/bin/python3',
    'nothing',
    'distml_no_such_module_xyz',
    'apt-get install x',
  );
  assert.equal(missing.available, false);
  // Without Debian's python3 at all the probe still skips, naming the interpreter instead.
  assert.match(missing.reason ?? '', /distml_no_such_module_xyz|no Python at \/usr\/bin\/python3/);
  const noPython = probePython(
    '/nonexistent/python3',
    'scikit-learn',
    'sklearn',
    'apt-get install python3-sklearn',
  );
  assert.deepEqual(noPython, {
    name: 'scikit-learn',
    kind: 'python',
    available: false,
    reason: 'no Python at /nonexistent/python3 (ENOENT); install python3 or pass --python PATH',
  });
  const noPackage = probeNode('nothing', 'distml-no-such-package-xyz');
  assert.equal(noPackage.available, false);
  assert.match(noPackage.reason ?? '', /distml-no-such-package-xyz not installed/);
});
