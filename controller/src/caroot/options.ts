// What the CA root publisher is told (--ca-root-*): owned here, filled by config.ts.

export interface CaRootConfig {
  /** --ca-root-file: the PEM bundle the sidecars trust (e.g. the serving certificate's ca.crt). */
  readonly file: string;
  /** --ca-root-configmap: the ConfigMap written (key ca.crt). Default agentwarden-ca-root. */
  readonly configMapName: string;
  /** --ca-root-namespace-labels k=v,...: only namespaces with all these labels (the webhooks' scope). Default none. */
  readonly namespaceLabels: Readonly<Record<string, string>>;
  /** --ca-root-exclude-namespaces a,b: never written (namespaces the webhooks never match). Default none. */
  readonly excludeNamespaces: readonly string[];
}
