/**
 * Optimizers. Driver-side ones (L-BFGS, and OWL-QN for an added L1 term) minimise a loss whose
 * value and gradient may come from a distributed pass, so their objectives may be async.
 */

export type { LbfgsIteration, LbfgsOptions, LbfgsResult, LbfgsStopReason, Objective } from './lbfgs.ts';
export { minimizeLbfgs } from './lbfgs.ts';
export type { L1Penalty, OwlqnOptions, OwlqnResult } from './owlqn.ts';
export { minimizeOwlqn } from './owlqn.ts';
