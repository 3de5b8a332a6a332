/** What every workload of one suite run shares: sizes, run counts, the interpreter and the peers. */
import type { PeerId, PeerStatus } from './peers.ts';

/** Options and probed peers of one run. */
export interface BenchContext {
  quick: boolean;
  /** Timed runs per system (fewer for a system whose first run takes over a minute). */
  runs: number;
  /** The Python interpreter for scikit-learn and XGBoost. */
  python: string;
  peers: Record<PeerId, PeerStatus>;
  /** Failures met so far (a workload that failed is still reported); the run exits non-zero. */
  failures: string[];
  /** How to spell a workload's reproduce command, e.g. `npm run bench -- --quick logistic`. */
  commandFor(workload: string): string;
}

/** A run longer than this is not repeated: its single figure stands (the 1-minute rule). */
export const LONG_RUN_SECONDS = 60;
