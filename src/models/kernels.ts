/**
 * Imports every module that registers kernels. Each execution backend imports this one module at
 * start, so every worker knows the same kernel names.
 */
import '../engine/bench.kernels.ts';
import './linear/linear.kernels.ts';
import './linear/logistic.kernels.ts';
import './linear/sgd.kernels.ts';
import './linear/svc.kernels.ts';
