/**
 * The cluster under attack: three real `concord serve` processes started by the cluster tests'
 * LocalCluster (test/cluster/harness.ts: one loopback address per node, 127.0.0.11-13, random
 * free ports, fresh data dirs under one temp dir), plus what the nemeses need on top: a node's
 * state (up, down, paused), kill -9 / restart, SIGSTOP / SIGCONT, and finding the leader.
 */
import { rmSync } from 'node:fs';
import { LocalCluster } from '../test/cluster/harness.ts';
import { ChaosHttp } from './client.ts';

export type NodeState = 'up' | 'down' | 'paused';

export interface ClusterInfo {
  readonly leaderId: string;
  readonly term: number;
}

export class ChaosCluster {
  private readonly states = new Map<string, NodeState>();
  private readonly probe = new ChaosHttp();

  private constructor(readonly local: LocalCluster) {
    for (const id of local.ids) this.states.set(id, 'down');
  }

  static async create(extraArgs: readonly string[], echo: boolean): Promise<ChaosCluster> {
    const local = await LocalCluster.create({ size: 3, firstHostOctet: 11, clusterId: 'concord-chaos', extraArgs, echo });
    return new ChaosCluster(local);
  }

  get ids(): string[] {
    return this.local.ids;
  }

  host(id: string): string {
    return this.local.node(id).spec.host;
  }

  get hosts(): string[] {
    return this.ids.map((id) => this.host(id));
  }

  get peerPort(): number {
    return this.local.node(this.ids[0] ?? '').spec.peerPort;
  }

  url(id: string): string {
    return this.local.url(id);
  }

  state(id: string): NodeState {
    return this.states.get(id) ?? 'down';
  }

  startAll(): void {
    for (const id of this.ids) this.start(id);
  }

  start(id: string): void {
    if (this.local.node(id).running) return;
    this.local.start(id);
    this.states.set(id, 'up');
  }

  async kill(id: string): Promise<void> {
    const node = this.local.node(id);
    if (node.running && node.child !== null) {
      node.child.kill('SIGKILL');
      await node.exited;
    }
    this.states.set(id, 'down');
  }

  pause(id: string): void {
    const node = this.local.node(id);
    if (!node.running || node.child === null) return;
    node.child.kill('SIGSTOP');
    this.states.set(id, 'paused');
  }

  resume(id: string): void {
    const node = this.local.node(id);
    if (node.running && node.child !== null) node.child.kill('SIGCONT');
    if (this.states.get(id) === 'paused') this.states.set(id, node.running ? 'up' : 'down');
  }

  /** Ends every pause and starts every node that is down. */
  healProcesses(): void {
    for (const id of this.ids) {
      this.resume(id);
      if (!this.local.node(id).running) this.start(id);
      else this.states.set(id, 'up');
    }
  }

  /** The leader the reachable nodes name in the highest term, or null (1 s per node at most). */
  async findLeader(): Promise<ClusterInfo | null> {
    const answers = await Promise.all(
      this.ids.filter((id) => this.state(id) === 'up').map(async (id) => {
        const reply = await this.probe.call(this.url(id), 'GET', '/v1/cluster', undefined, 800);
        if (reply.kind !== 'answer' || reply.status !== 200) return null;
        const body = reply.body as { leaderId?: unknown; term?: unknown };
        return typeof body.leaderId === 'string' && body.leaderId !== '' && typeof body.term === 'number'
          ? { leaderId: body.leaderId, term: body.term }
          : null;
      }),
    );
    let best: ClusterInfo | null = null;
    for (const answer of answers) if (answer !== null && (best === null || answer.term > best.term)) best = answer;
    return best;
  }

  /** Each node's log as it printed it (for the run folder). */
  logOf(id: string): string {
    return this.local.node(id).rawLines.join('\n');
  }

  /** For an exit handler, where nothing async runs any more: kill every node, drop the data. */
  killAllSync(): void {
    for (const id of this.ids) {
      const child = this.local.node(id).child;
      if (this.local.node(id).running && child !== null) {
        child.kill('SIGKILL');
        child.kill('SIGCONT');
      }
    }
    rmSync(this.local.root, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    // SIGKILL ends a stopped process too; resuming first just lets it flush its last log lines.
    for (const id of this.ids) this.resume(id);
    await this.probe.close();
    await this.local.destroy();
  }
}
