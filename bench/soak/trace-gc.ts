// Loaded into the sidecar by make soak (NODE_OPTIONS=--import): V8 then prints
// each collection on the sidecar's stdout (--trace-gc), and each deoptimization
// (--trace-deopt: a collection can take optimized code away), which the soak
// reads from its log (gc-log.ts). Node refuses both in NODE_OPTIONS; set at run
// time, they apply from then on. Counting collections this way
// adds nothing to the sidecar's heap, where a PerformanceObserver would
// (sidecar/src/telemetry/runtime-metrics.ts says how much).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--trace-gc');
setFlagsFromString('--trace-deopt');
