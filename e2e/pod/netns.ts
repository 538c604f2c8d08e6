// A pod's network, as a node would give it one: a network namespace with its
// own loopback, a veth pair to the test's side, an IPv4 and an IPv6 address,
// a default route, and the pod's /etc/resolv.conf and /etc/hosts (bind-mounted
// by `ip netns exec` from /etc/netns/<name>/). The test's side of the veth
// carries every address the test's servers listen on; nothing else is reached.
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); everything is removed by remove().
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

export interface PodNetwork {
  /** The namespace's name (`ip netns`). */
  readonly name: string;
  /** The pod's IPv4 address. */
  readonly podIp: string;
  /** The pod's IPv6 address. */
  readonly podIp6: string;
  /** The pod's resolver (the test's DNS server listens there). */
  readonly resolver: string;
  /** hostIp(n): the test side's IPv4 address number n (1 is the gateway and resolver). */
  hostIp(n: number): string;
  /** The test side's IPv6 address. */
  readonly hostIp6: string;
  /** argv prefix that runs a command inside the namespace as `uid` (and gid = uid), no supplementary groups. */
  as(uid: number): string[];
  remove(): Promise<void>;
}

export interface CommandResult { readonly code: number; readonly stdout: string; readonly stderr: string }

/** Runs a command to completion; never throws on a non-zero exit. */
export function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
    });
  });
}

async function must(file: string, args: readonly string[]): Promise<string> {
  const r = await run(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Hosts the test's DNS answers for; ip.ts-style helpers map them to hostIp(n). */
export const HOST_ADDRESSES = [1, 10, 11, 12, 13, 14, 15, 16, 66] as const;

/**
 * Creates the namespace `aw-<slot>` with 10.254.<slot>.2/24 (pod) and
 * 10.254.<slot>.{1,10,...}/24 (test side). `slot` (1-250) keeps parallel
 * harnesses apart; leftovers of a crashed run with the same slot are removed first.
 */
export async function createPodNetwork(slot: number): Promise<PodNetwork> {
  if (!Number.isInteger(slot) || slot < 1 || slot > 250) throw new Error(`pod network slot ${slot}: must be 1..250`);
  const name = `aw-${slot}`;
  const hostIf = `awh${slot}`;
  const podIf = `awp${slot}`;
  const hostIp = (n: number): string => `10.254.${slot}.${n}`;
  const podIp = hostIp(2);
  const hostIp6 = `fd00:254:${slot.toString(16)}::1`;
  const podIp6 = `fd00:254:${slot.toString(16)}::2`;
  const etc = `/etc/netns/${name}`;
  const cleanup = async (): Promise<void> => {
    await run('ip', ['link', 'del', hostIf]);
    await run('ip', ['netns', 'del', name]);
    rmSync(etc, { recursive: true, force: true });
  };
  await cleanup();
  const inNs = (...args: string[]): Promise<string> => must('ip', ['netns', 'exec', name, ...args]);
  try {
    await must('ip', ['netns', 'add', name]);
    await must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf]);
    await must('ip', ['link', 'set', podIf, 'netns', name]);
    for (const n of HOST_ADDRESSES) await must('ip', ['addr', 'add', `${hostIp(n)}/24`, 'dev', hostIf]);
    await must('ip', ['-6', 'addr', 'add', `${hostIp6}/64`, 'dev', hostIf, 'nodad']);
    await must('ip', ['link', 'set', hostIf, 'up']);
    await inNs('ip', 'link', 'set', 'lo', 'up');
    // As containerd sets it for every pod: any UID may open ICMP echo sockets (unprivileged ping).
    await inNs('sysctl', '-q', '-w', 'net.ipv4.ping_group_range=0 2147483647');
    await inNs('ip', 'addr', 'add', `${podIp}/24`, 'dev', podIf);
    await inNs('ip', '-6', 'addr', 'add', `${podIp6}/64`, 'dev', podIf, 'nodad');
    await inNs('ip', 'link', 'set', podIf, 'up');
    await inNs('ip', 'route', 'add', 'default', 'via', hostIp(1));
    await inNs('ip', '-6', 'route', 'add', 'default', 'via', hostIp6);
    mkdirSync(etc, { recursive: true });
    // As the kubelet writes them: the cluster resolver, and the pod's own names.
    writeFileSync(`${etc}/resolv.conf`, `nameserver ${hostIp(1)}\noptions ndots:1 timeout:1 attempts:2\n`);
    writeFileSync(`${etc}/hosts`, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n${podIp}\tagent-pod\n`);
  } catch (e: unknown) {
    await cleanup();
    throw e;
  }
  return {
    name, podIp, podIp6, hostIp6, resolver: hostIp(1), hostIp,
    as: (uid) => ['ip', 'netns', 'exec', name, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'],
    remove: cleanup,
  };
}
