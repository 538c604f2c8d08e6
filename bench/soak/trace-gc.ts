// Loaded into the sidecar by make soak (NODE_OPTIONS=--import): V8 then prints
// each collection on the sidecar's stdout (--trace-gc), which the soak reads
// from its log (gc-log.ts). Node refuses --trace-gc in NODE_OPTIONS; set at run
// time, it applies from the next collection on. Counting collections this way
// adds nothing to the sidecar's heap, where a PerformanceObserver would
// (sidecar/src/telemetry/runtime-metrics.ts says how much).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--trace-gc');
