/**
 * Real `concord serve` processes on loopback for the cluster tests and the HTTP benchmark.
 * Each node gets its own loopback address (127.0.0.11, .12, ...), so ports repeat across nodes
 * and only need to be free on those addresses; the ports are chosen at random in a high range
 * and probed first. Data dirs live under one temp dir. Every wait is bounded, and destroy()
 * kills every process (SIGKILL) — nodes and helper client scripts (spawnScript) alike — and
 * removes the temp dir, whatever state the test left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { readAnswer } from '../support/http-answer.ts';

const BIN = fileURLToPath(new URL('../../bin/concord.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface NodeSpec {
  readonly id: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly clusterId: string;
  readonly initialCluster: string;
  readonly extraArgs: readonly string[];
  /** Start with `--join URL` (a new data dir joins a running cluster) instead of --initial-cluster. */
  readonly join?: string;
}

export interface LogLine {
  readonly msg?: string;
  readonly level?: number;
  readonly [field: string]: unknown;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  readonly body: unknown;
}

export interface ClusterOptions {
  readonly size?: number;
  readonly clusterId?: string;
  /** Extra `concord serve` flags for every node (e.g. `--snapshot-every 50`). */
  readonly extraArgs?: readonly string[];
  /** First loopback host octet: nodes get 127.0.0.<first>, <first+1>, ... */
  readonly firstHostOctet?: number;
  /** Echo node output to this process's stderr (debugging). */
  readonly echo?: boolean;
  /**
   * Loopback hosts kept free (ports probed) after the members', for nodes that join later with
   * startJoining(): 127.0.0.<first+size>, ...
   */
  readonly spares?: number;
}

/** A child process whose output is collected line by line (JSON lines parsed). */
class ChildLines {
  readonly lines: LogLine[] = [];
  readonly rawLines: string[] = [];
  child: ChildProcess | null = null;
  exited: Promise<number | null> = Promise.resolve(null);
  running = false;
}

class NodeProcess extends ChildLines {
  constructor(readonly spec: NodeSpec) {
    super();
  }

  get clientUrl(): string {
    return `http://${this.spec.host}:${this.spec.clientPort}`;
  }
}

/** A helper script started by LocalCluster.spawnScript. */
export class ScriptProcess extends ChildLines {
  constructor(readonly name: string) {
    super();
  }
}

/** Collects `child`'s stdout and stderr into `target` and tracks its exit. */
function attach(target: ChildLines, child: ChildProcess, echoPrefix: string | null): void {
  target.child = child;
  target.running = true;
  const collect = (stream: NodeJS.ReadableStream | null): void => {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        if (line.trim() === '') continue;
        target.rawLines.push(line);
        if (echoPrefix !== null) process.stderr.write(`${echoPrefix} | ${line}\n`);
        try {
          target.lines.push(JSON.parse(line) as LogLine);
        } catch {
          target.lines.push({ msg: line });
        }
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  target.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      target.running = false;
      resolve(code ?? (signal === null ? null : 128));
    });
  });
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a non-undefined value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === null ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A client port P and peer port P+1 free on every host. */
async function choosePorts(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+), so no outgoing socket grabs a port between probe and bind.
    const base = 20_000 + 2 * Math.floor(Math.random() * 6_000);
    const checks = await Promise.all(hosts.flatMap((host) => [portFree(host, base), portFree(host, base + 1)]));
    if (checks.every(Boolean)) return base;
  }
  throw new Error('no free port pair found on the loopback hosts');
}

export class LocalCluster {
  readonly nodes: Map<string, NodeProcess>;
  readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: 128, pipelining: 1 });
  private readonly extraProcesses: NodeProcess[] = [];
  private readonly scripts: ScriptProcess[] = [];
  /** Spare loopback hosts not yet given to a joining node. */
  private readonly spareHosts: string[];

  private constructor(
    readonly root: string,
    nodes: readonly NodeProcess[],
    private readonly echo: boolean,
    spareHosts: readonly string[] = [],
    private readonly layout: { readonly clientPort: number; readonly peerPort: number; readonly clusterId: string; readonly extraArgs: readonly string[] } | null = null,
  ) {
    this.spareHosts = [...spareHosts];
    this.nodes = new Map(nodes.map((node) => [node.spec.id, node]));
  }

  /** Lays out a cluster (nothing started yet). */
  static async create(options: ClusterOptions = {}): Promise<LocalCluster> {
    const size = options.size ?? 3;
    const firstOctet = options.firstHostOctet ?? 11;
    const spares = options.spares ?? 0;
    const allHosts = Array.from({ length: size + spares }, (_, position) => `127.0.0.${firstOctet + position}`);
    const hosts = allHosts.slice(0, size);
    const base = await choosePorts(allHosts);
    const root = await mkdtemp(path.join(os.tmpdir(), 'concord-cluster-'));
    const ids = hosts.map((_, position) => `n${position + 1}`);
    const initialCluster = ids.map((id, position) => `${id}=${hosts[position]}:${base + 1}`).join(',');
    const nodes = ids.map((id, position) => new NodeProcess({
      id,
      host: hosts[position] ?? '127.0.0.1',
      clientPort: base,
      peerPort: base + 1,
      dataDir: path.join(root, id),
      clusterId: options.clusterId ?? 'concord-test',
      initialCluster,
      extraArgs: options.extraArgs ?? [],
    }));
    const layout = { clientPort: base, peerPort: base + 1, clusterId: options.clusterId ?? 'concord-test', extraArgs: options.extraArgs ?? [] };
    return new LocalCluster(root, nodes, options.echo ?? false, allHosts.slice(size), layout);
  }

  get ids(): string[] {
    return [...this.nodes.keys()];
  }

  node(id: string): NodeProcess {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  url(id: string): string {
    return this.node(id).clientUrl;
  }

  /** Starts every node that is not running. */
  startAll(): void {
    for (const id of this.ids) if (!this.node(id).running) this.start(id);
  }

  start(id: string): void {
    this.launch(this.node(id));
  }

  /** The client URLs the nodes startJoining() starts next will have, in order. */
  get spareClientUrls(): string[] {
    return this.layout === null ? [] : this.spareHosts.map((host) => `http://${host}:${this.layout?.clientPort ?? 0}`);
  }

  /**
   * Starts a new node `id` on the next spare host (see ClusterOptions.spares) with a new data dir
   * and `--join joinUrl` instead of --initial-cluster: it learns the members from the cluster and
   * asks to be added. It becomes one of `nodes` (start, stop, http, findLog work by its id);
   * restarted with start(id), it runs on its data dir (serve ignores --join then).
   */
  startJoining(id: string, joinUrl: string): NodeProcess {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists already`);
    const host = this.spareHosts.shift();
    if (host === undefined || this.layout === null) throw new Error('no spare host left: create the cluster with more spares');
    const node = new NodeProcess({
      id,
      host,
      clientPort: this.layout.clientPort,
      peerPort: this.layout.peerPort,
      dataDir: path.join(this.root, id),
      clusterId: this.layout.clusterId,
      initialCluster: '',
      extraArgs: this.layout.extraArgs,
      join: joinUrl,
    });
    this.nodes.set(id, node);
    this.launch(node);
    return node;
  }

  /**
   * Starts a process outside the cluster's node set (e.g. an intruder with another cluster id);
   * it is killed by destroy() like the others.
   */
  startExtra(spec: NodeSpec): NodeProcess {
    const node = new NodeProcess(spec);
    this.extraProcesses.push(node);
    this.launch(node);
    return node;
  }

  private launch(node: NodeProcess): void {
    const { spec } = node;
    const args = [
      BIN, 'serve',
      '--id', spec.id,
      '--data-dir', spec.dataDir,
      '--listen-client', `${spec.host}:${spec.clientPort}`,
      '--listen-peer', `${spec.host}:${spec.peerPort}`,
      ...(spec.join === undefined ? ['--initial-cluster', spec.initialCluster] : ['--join', spec.join]),
      '--cluster-id', spec.clusterId,
      '--log-level', 'info',
      ...spec.extraArgs,
    ];
    // The IPC channel makes the node stop if this process dies without cleaning up.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    attach(node, child, this.echo ? spec.id : null);
  }

  /**
   * Runs a TypeScript helper script (through tsx) as a client process of its own, e.g. a lock
   * holder that a test kills with SIGKILL. Its output lines are collected like a node's (JSON
   * lines parsed); it gets an IPC channel, so it can stop itself when this process goes away;
   * destroy() kills it like the nodes.
   */
  spawnScript(script: string, args: readonly string[], name = path.basename(script)): ScriptProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const helper = new ScriptProcess(name);
    attach(helper, child, this.echo ? name : null);
    this.scripts.push(helper);
    return helper;
  }

  /** Sends `signal` and waits (bounded) for the process to exit; returns its exit code. */
  async stop(id: string, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    const node = this.node(id);
    return this.stopProcess(node, signal, timeoutMs);
  }

  private async stopProcess(node: NodeProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<number | null> {
    if (!node.running || node.child === null) return node.exited;
    node.child.kill(signal);
    const timer = sleep(timeoutMs).then(() => 'timeout' as const);
    const outcome = await Promise.race([node.exited, timer]);
    if (outcome === 'timeout') {
      node.child.kill('SIGKILL');
      throw new Error(`${node.spec.id} did not exit within ${timeoutMs} ms of ${signal}`);
    }
    return outcome;
  }

  /** Kills everything and removes the data dirs. Safe to call twice, and after failures. */
  async destroy(): Promise<void> {
    const all: ChildLines[] = [...this.scripts, ...this.nodes.values(), ...this.extraProcesses];
    await Promise.all(all.map(async (node) => {
      if (node.running && node.child !== null) {
        node.child.kill('SIGKILL');
        await Promise.race([node.exited, sleep(5_000)]);
      }
    }));
    await this.agent.close().catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }

  async http(id: string, method: string, pathAndQuery: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HttpAnswer> {
    return this.httpUrl(`${this.url(id)}${pathAndQuery}`, method, body, headers, timeoutMs);
  }

  /** A request with a raw (string or Buffer) body or a JSON-encoded one. */
  async httpUrl(url: string, method: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HttpAnswer> {
    const raw = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const response = await request(url, {
      method: method as 'GET',
      dispatcher: this.agent,
      headers: raw === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(raw === undefined ? {} : { body: raw }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return readAnswer(response);
  }

  /** Waits until `id` answers /ready with 200. */
  async waitReady(id: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(`${id} to be ready`, timeoutMs, async () => {
      if (!this.node(id).running) throw new Error(`${id} exited: ${this.tail(id)}`);
      const answer = await this.http(id, 'GET', '/ready', undefined, {}, 1_000);
      return answer.status === 200 ? true : undefined;
    });
  }

  /** Waits until every running node is ready and they agree on one leader; returns its id. */
  async waitLeader(timeoutMs = 20_000, among: readonly string[] = this.ids.filter((id) => this.node(id).running)): Promise<string> {
    return waitFor('an agreed leader', timeoutMs, async () => {
      const leaders = new Set<string>();
      for (const id of among) {
        const ready = await this.http(id, 'GET', '/ready', undefined, {}, 1_000);
        if (ready.status !== 200) return undefined;
        const cluster = await this.http(id, 'GET', '/v1/cluster', undefined, {}, 1_000);
        const leaderId = (cluster.body as { leaderId?: unknown } | undefined)?.leaderId;
        if (typeof leaderId !== 'string' || leaderId === '') return undefined;
        leaders.add(leaderId);
      }
      const [leader] = [...leaders];
      return leaders.size === 1 && leader !== undefined && among.includes(leader) ? leader : undefined;
    });
  }

  /** Whether a log line of `id` (any process started under that id) matches. */
  findLog(id: string, predicate: (line: LogLine) => boolean): LogLine | undefined {
    return this.node(id).lines.find(predicate);
  }

  tail(id: string, count = 15): string {
    return this.node(id).rawLines.slice(-count).join('\n');
  }
}

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

/** An open server-sent-events stream: events so far, a bounded wait, and close(). */
export interface SseStream {
  readonly status: number;
  readonly events: SseEvent[];
  waitForEvents(predicate: (events: readonly SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function openSse(cluster: LocalCluster, id: string, pathAndQuery: string): Promise<SseStream> {
  const controller = new AbortController();
  const response = await request(`${cluster.url(id)}${pathAndQuery}`, {
    method: 'GET',
    dispatcher: cluster.agent,
    signal: controller.signal,
    headers: { accept: 'text/event-stream' },
    headersTimeout: 10_000,
    bodyTimeout: 0,
  });
  const events: SseEvent[] = [];
  let buffer = '';
  const decoder = new StringDecoder('utf8');
  response.body.on('data', (chunk: Buffer) => {
    buffer += decoder.write(chunk).replace(/\r\n/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue;
      const text = data.join('\n');
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
      events.push({ event, data: parsed });
    }
  });
  response.body.on('error', () => undefined);
  return {
    status: response.statusCode,
    events,
    async waitForEvents(predicate, what, timeoutMs = 10_000) {
      await waitFor(what, timeoutMs, async () => (predicate(events) ? true : undefined), 20);
    },
    close() {
      controller.abort();
    },
  };
}
