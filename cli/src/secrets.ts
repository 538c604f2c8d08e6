// Outside a cluster, credential values are unknown. The CLI resolves every
// Secret reference to a visible placeholder so that decisions follow the
// policy's logic and suites can assert which credential header is injected.
import type { SecretResolver } from '../../policy/src/index.js';

export const placeholderSecrets: SecretResolver = (namespace, name, key) =>
  new TextEncoder().encode(`<secret ${namespace}/${name}/${key}>`);
