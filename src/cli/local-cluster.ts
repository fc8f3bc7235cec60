/**
 * `concord local-cluster` (what `npm start` runs): the contract's local cluster — three
 * `concord serve` processes on loopback, client HTTP on 127.0.0.1:7001-7003, peers on
 * 127.0.0.1:7101-7103, data under ./data/node{1,2,3}. Each node's log lines are shown prefixed
 * by its name; once the cluster has a leader it prints the endpoints and a few curl commands.
 *
 * The nodes run in their own process group, so a terminal's Ctrl-C reaches only this launcher,
 * which then stops each node once with SIGTERM (a graceful shutdown) and waits for all three.
 * A second Ctrl-C a moment later kills them outright; if the launcher itself is killed, the nodes
 * notice their IPC channel close and stop. Data stays in the data dir across runs.
 *
 * `--tls` turns on HTTPS (client certificates required) and mutual TLS between the nodes, with
 * development certificates kept in <data dir>/certs (local-cluster-tls.ts). `--base-port N`
 * moves the ports (clients N+1..N+3, peers N+101..N+103; default 7000).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Agent, request, type Dispatcher } from 'undici';
import { prepareLocalClusterTls, type LocalClusterTls } from './local-cluster-tls.ts';
import { sameRuntimeCommand } from './runtime.ts';

const NODE_COUNT = 3;
const HOST = '127.0.0.1';
const DEFAULT_BASE_PORT = 7000;
/** Peer ports sit this far above the client ports. */
const PEER_PORT_OFFSET = 100;
const LEADER_WAIT_MS = 30_000;
/** A second signal this long after the first forces the nodes down. */
const FORCE_AFTER_MS = 1_000;

interface LocalNode {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerAddress: string;
  readonly dataDir: string;
  readonly colour: string;
  child: ChildProcess | null;
  exitCode: number | null;
}

const COLOURS = ['\x1b[36m', '\x1b[33m', '\x1b[35m'];
const RESET = '\x1b[0m';
const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line carries or the prefix already shows. */
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'nodeId', 'clusterId']);

/** One pino JSON line as `HH:MM:SS.mmm LEVEL message key=value ...`; other text unchanged. */
export function formatLogLine(text: string): string {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return text;
    record = parsed as Record<string, unknown>;
  } catch {
    return text;
  }
  const time = typeof record['time'] === 'number' ? new Date(record['time']).toISOString().slice(11, 23) : '';
  const level = LEVEL_NAMES[Number(record['level'])] ?? String(record['level'] ?? '');
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return [time, level.padEnd(5), String(record['msg'] ?? ''), ...fields].filter((part) => part !== '').join(' ');
}

/** `./data/node1` rather than `data/node1`, so a reader sees it is relative to here. */
function displayPath(dir: string): string {
  return path.isAbsolute(dir) || dir.startsWith('.') ? dir : `.${path.sep}${dir}`;
}

function nodesUnder(dataRoot: string, basePort: number, scheme: 'http' | 'https'): LocalNode[] {
  return Array.from({ length: NODE_COUNT }, (_, position) => {
    const number = position + 1;
    return {
      name: `node${number}`,
      clientUrl: `${scheme}://${HOST}:${basePort + number}`,
      peerAddress: `${HOST}:${basePort + PEER_PORT_OFFSET + number}`,
      dataDir: displayPath(path.join(dataRoot, `node${number}`)),
      colour: COLOURS[position] ?? '',
      child: null,
      exitCode: null,
    };
  });
}

function relay(node: LocalNode, stream: NodeJS.ReadableStream | null, colour: boolean): void {
  if (stream === null) return;
  const prefix = colour ? `${node.colour}${node.name.padEnd(5)} |${RESET} ` : `${node.name.padEnd(5)} | `;
  createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix}${formatLogLine(line)}\n`));
}

async function fetchJson(url: string, dispatcher: Dispatcher): Promise<{ status: number; body: unknown }> {
  const response = await request(url, { dispatcher, headersTimeout: 1_000, bodyTimeout: 1_000, signal: AbortSignal.timeout(1_000) });
  const text = await response.body.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.statusCode, body };
}

/**
 * Resolves once every node answers /ready with 200, with the leader's id as /v1/cluster names
 * it ('' when that route does not say); null if the cluster is not ready in time.
 */
async function waitForLeader(nodes: readonly LocalNode[], stopped: () => boolean, dispatcher: Dispatcher): Promise<string | null> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  while (Date.now() < deadline && !stopped()) {
    try {
      const ready = await Promise.all(nodes.map((node) => fetchJson(`${node.clientUrl}/ready`, dispatcher)));
      if (ready.every((answer) => answer.status === 200)) {
        const cluster = await fetchJson(`${nodes[0]?.clientUrl ?? ''}/v1/cluster`, dispatcher).catch(() => null);
        const leaderId = (cluster?.body as { leaderId?: unknown } | null)?.leaderId;
        return typeof leaderId === 'string' ? leaderId : '';
      }
    } catch {
      // Not listening yet: try again shortly.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return null;
}

function banner(nodes: readonly LocalNode[], leaderId: string, tls: LocalClusterTls | null): string {
  const [first, second, third] = nodes.map((node) => node.clientUrl);
  // With TLS, curl needs the CA and the client certificate (the nodes require one).
  const curl = tls === null ? 'curl' : `curl --cacert ${tls.caFile} --cert ${tls.clientCertFile} --key ${tls.clientKeyFile}`;
  const tlsLines = tls === null ? [] : [
    `TLS is on: HTTPS with client certificates, mutual TLS between the nodes; certificates in ${tls.dir}${tls.created ? ' (made now)' : ''}.`,
    'The CLI and SDK need them too:',
    `  export CONCORD_ENDPOINTS=${nodes.map((node) => node.clientUrl).join(',')}`,
    `  export CONCORD_CACERT=${tls.caFile} CONCORD_CERT=${tls.clientCertFile} CONCORD_KEY=${tls.clientKeyFile}`,
    '',
  ];
  const rows = nodes.map((node) => `  ${node.name}  ${node.clientUrl}  peer ${node.peerAddress}  data ${node.dataDir}${node.name === leaderId ? '  (leader)' : ''}`);
  return [
    '',
    `Concord local cluster is up: ${nodes.length} nodes${leaderId === '' ? '' : `, leader ${leaderId}`}.`,
    ...rows,
    '',
    ...tlsLines,
    'Try (any node accepts any request):',
    `  ${curl} -s -X PUT ${first}/v1/kv/greeting -H 'content-type: application/json' -d '{"value":"hello"}'`,
    `  ${curl} -s ${second}/v1/kv/greeting`,
    `  ${curl} -s '${third}/v1/kv?prefix='`,
    `  ${curl} -sN '${second}/v1/watch?prefix=&fromRevision=1'`,
    `  ${curl} -s -X POST ${first}/v1/leases -H 'content-type: application/json' -d '{"ttlMs":10000}'`,
    `  ${curl} -s ${first}/v1/cluster`,
    '',
    'Ctrl-C stops all three nodes. Data stays under the data dir (delete it to start afresh).',
    '',
  ].join('\n');
}

export async function runLocalCluster(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'data-dir': { type: 'string', default: 'data' },
        'log-level': { type: 'string', default: 'info' },
        tls: { type: 'boolean', default: false },
        'base-port': { type: 'string', default: String(DEFAULT_BASE_PORT) },
      },
      strict: true,
    }));
  } catch (error) {
    // node:util's parseArgs names the flag (unknown option, missing value, stray argument).
    process.stderr.write(`concord local-cluster: ${error instanceof Error ? error.message : String(error)}\n\nRun \`concord local-cluster --help\` for the flags.\n`);
    return 2;
  }
  const dataRoot = values['data-dir'];
  const logLevel = values['log-level'];
  const basePort = Number(values['base-port']);
  if (!/^\d+$/.test(values['base-port']) || basePort < 1 || basePort + PEER_PORT_OFFSET + NODE_COUNT > 65535) {
    process.stderr.write(`concord local-cluster: --base-port must leave room for ports up to N+${PEER_PORT_OFFSET + NODE_COUNT} (at most 65535), got ${JSON.stringify(values['base-port'])}\n`);
    return 2;
  }
  const nodes = nodesUnder(dataRoot, basePort, values.tls ? 'https' : 'http');
  let tls: LocalClusterTls | null = null;
  if (values.tls) {
    try {
      tls = await prepareLocalClusterTls(dataRoot, nodes.map((node) => node.name));
    } catch (error) {
      process.stderr.write(`concord local-cluster: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  }
  const dispatcher = new Agent({ connect: tls === null ? {} : tls.clientPem() });
  const initialCluster = nodes.map((node) => `${node.name}=${node.peerAddress}`).join(',');
  const colour = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
  let stopping = false;
  let firstSignalAtMs = 0;

  // The nodes run the code this launcher runs: the compiled build, or src/ through tsx.
  const command = sameRuntimeCommand();
  const exited = nodes.map((node) => {
    const child = spawn(process.execPath, [
      ...command.args, 'serve',
      '--id', node.name,
      '--data-dir', node.dataDir,
      '--listen-client', new URL(node.clientUrl).host,
      '--listen-peer', node.peerAddress,
      '--initial-cluster', initialCluster,
      '--log-level', logLevel,
      ...(tls === null ? [] : tls.serveArgs(node.name)),
    // detached: Ctrl-C reaches only this launcher, which stops each node once. The IPC channel
    // carries nothing; it closes if the launcher dies, and then the nodes stop too.
    ], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true, env: { ...process.env, ...command.env } });
    node.child = child;
    relay(node, child.stdout, colour);
    relay(node, child.stderr, colour);
    return new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        node.exitCode = code ?? (signal === null ? 1 : 128);
        const how = signal === null ? `exited with code ${code}` : `killed by ${signal}`;
        if (!stopping || node.exitCode !== 0) process.stdout.write(`${node.name.padEnd(5)} | ${how}\n`);
        resolve();
      });
      child.on('error', (error) => {
        process.stdout.write(`${node.name.padEnd(5)} | failed to start: ${error.message}\n`);
        node.exitCode = 1;
        resolve();
      });
    });
  });

  const signalAll = (signal: NodeJS.Signals): void => {
    for (const node of nodes) {
      if (node.child !== null && node.exitCode === null) node.child.kill(signal);
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stopping) {
      stopping = true;
      firstSignalAtMs = Date.now();
      process.stdout.write(`\n${signal}: stopping the three nodes (Ctrl-C again to kill them)\n`);
      signalAll('SIGTERM');
    } else if (Date.now() - firstSignalAtMs > FORCE_AFTER_MS) {
      process.stdout.write(`${signal}: killing the nodes\n`);
      signalAll('SIGKILL');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  void waitForLeader(nodes, () => stopping || nodes.some((node) => node.exitCode !== null), dispatcher).then((leaderId) => {
    if (stopping) return;
    if (leaderId === null) {
      process.stdout.write(`\nNo leader after ${LEADER_WAIT_MS / 1000} s; see the node logs above.\n`);
    } else {
      process.stdout.write(banner(nodes, leaderId, tls));
    }
  });

  await Promise.all(exited);
  await dispatcher.close().catch(() => undefined);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return Math.max(0, ...nodes.map((node) => node.exitCode ?? 1));
}
