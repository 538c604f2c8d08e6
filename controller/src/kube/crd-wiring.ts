// What a controller part built on one agentwarden CRD is given by main.ts
// (approvals/ for AgentAccessRequests, baselines/ for AgentBaselines): where
// to watch it, the pods and their snapshots it decorates, whether this
// replica may write, and how to ask for a reconcile.
import type { KubernetesObject, Watch } from '@kubernetes/client-node';
import type { Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import type { Informer, InformerOptions } from './informer.js';
import type { SlimPod } from './objects.js';

export interface CrdWiring {
  readonly watch: Watch;
  /** "/apis/agentwarden.io/v1alpha1" */
  readonly apiPath: string;
  readonly pods: Informer<SlimPod>;
  readonly snapshotFor: (podKey: string) => Snapshot | undefined;
  /** Whether this replica writes (the leader). */
  readonly mayWrite: () => boolean;
  /** What the sidecars enforce changed: reconcile (debounced), which pushes. */
  readonly onChange: () => void;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  readonly informerLog: InformerOptions<KubernetesObject>['log'];
}
