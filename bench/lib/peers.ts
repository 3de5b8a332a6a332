/**
 * Which peers this machine has. Every peer is probed once per run; an absent one is reported as
 * skipped with the reason and the command that would install it, and the suite carries on.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

/** Whether one peer can run, and which version. */
export interface PeerStatus {
  /** Display name, e.g. `scikit-learn`. */
  name: string;
  /** `python` modules run through the chosen interpreter; `node` packages load in a child node. */
  kind: 'python' | 'node';
  available: boolean;
  version?: string;
  /** Why the peer was skipped (only when not available). */
  reason?: string;
}

/** Debian's interpreter, which has python3-sklearn and python3-xgboost; not the `python3` first on PATH. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/**
 * Probes `module` in `python`: available with its `__version__`, or skipped with the reason
 * (interpreter missing, or the import failing) and `install` as the fix.
 */
export function probePython(python: string, name: string, module: string, install: string): PeerStatus {
  const code = `import ${module} as m; print(getattr(m, '__version__', '?'))`;
  const probe = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60_000 });
  if (probe.error !== undefined) {
    return {
      name,
      kind: 'python',
      available: false,
      reason: `no Python at ${python} (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message}); install python3 or pass --python PATH`,
    };
  }
  if (probe.status !== 0) {
    const last = probe.stderr.trim().split('\n').at(-1) ?? `exit ${probe.status}`;
    return { name, kind: 'python', available: false, reason: `${python}: ${last} (${install})` };
  }
  return { name, kind: 'python', available: true, version: probe.stdout.trim() };
}

/** Probes a node package: available when it resolves from this repository, with its version. */
export function probeNode(name: string, pkg: string): PeerStatus {
  const require = createRequire(import.meta.url);
  try {
    const version = (require(`${pkg}/package.json`) as { version: string }).version;
    return { name, kind: 'node', available: true, version };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    return { name, kind: 'node', available: false, reason: `${pkg} not installed (${code}; run npm ci)` };
  }
}

/** Every peer the suite knows, probed. */
export function detectPeers(python: string): Record<PeerId, PeerStatus> {
  return {
    sklearn: probePython(python, 'scikit-learn', 'sklearn', 'apt-get install python3-sklearn'),
    xgboost: probePython(python, 'XGBoost', 'xgboost', 'apt-get install python3-xgboost'),
    pandas: probePython(python, 'pandas', 'pandas', 'apt-get install python3-pandas'),
    mljs: probeNode('ml.js', 'ml-logistic-regression'),
    tfjs: probeNode('TensorFlow.js', '@tensorflow/tfjs'),
    tfjsWasm: probeNode('TensorFlow.js wasm backend', '@tensorflow/tfjs-backend-wasm'),
  };
}

/** The peers {@link detectPeers} probes. */
export type PeerId = 'sklearn' | 'xgboost' | 'pandas' | 'mljs' | 'tfjs' | 'tfjsWasm';
