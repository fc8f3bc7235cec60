/**
 * The cluster under attack: three real `concord serve` processes started by the cluster tests'
 * LocalCluster (test/cluster/harness.ts: one loopback address per node, 127.0.0.11-13, random
 * free ports, fresh data dirs under one temp dir), plus what the nemeses need on top: a node's
 * state (up, down, paused, removed), kill -9 / restart, SIGSTOP / SIGCONT, finding the leader,
 * and membership changes: a member removed through the HTTP membership route is killed, and
 * later comes back as a fresh member (a new data dir, `serve --join`, same id, address and
 * ports, so the firewall rules and the clients' node list stay valid).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { LocalCluster, type NodeSpec } from '../test/cluster/harness.ts';
import { ChaosHttp, errorCode } from './client.ts';

export type NodeState = 'up' | 'down' | 'paused' | 'removed';

export interface ClusterInfo {
  readonly leaderId: string;
  readonly term: number;
}

export interface MemberView {
  readonly id: string;
  readonly voter: boolean;
}

type NodeProcess = ReturnType<LocalCluster['node']>;

/** How long a membership request may take on the server (the route waits out transient refusals). */
const MEMBERSHIP_DEADLINE_MS = 5_000;
/** A joining node not in the configuration after this long is started again on a fresh data dir. */
const STALLED_JOIN_MS = 40_000;

export class ChaosCluster {
  private readonly states = new Map<string, NodeState>();
  private readonly probe = new ChaosHttp();
  /** Nodes that came back as fresh members run as new processes (LocalCluster.startExtra). */
  private readonly current = new Map<string, NodeProcess>();
  /** Every process a node id ran as, for its log. */
  private readonly incarnations = new Map<string, NodeProcess[]>();
  private rejoins = 0;

  private constructor(readonly local: LocalCluster) {
    for (const id of local.ids) {
      this.states.set(id, 'down');
      this.incarnations.set(id, [local.node(id)]);
    }
  }

  static async create(extraArgs: readonly string[], echo: boolean): Promise<ChaosCluster> {
    const local = await LocalCluster.create({ size: 3, firstHostOctet: 11, clusterId: 'concord-chaos', extraArgs, echo });
    return new ChaosCluster(local);
  }

  get ids(): string[] {
    return this.local.ids;
  }

  /** The nodes that are members (not removed by a membership nemesis). */
  get memberIds(): string[] {
    return this.ids.filter((id) => this.state(id) !== 'removed');
  }

  private proc(id: string): NodeProcess {
    return this.current.get(id) ?? this.local.node(id);
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

  running(id: string): boolean {
    return this.proc(id).running;
  }

  startAll(): void {
    for (const id of this.memberIds) this.start(id);
  }

  start(id: string): void {
    if (this.state(id) === 'removed' || this.proc(id).running) return;
    const replaced = this.current.get(id);
    if (replaced === undefined) this.local.start(id);
    else this.launchExtra(id, replaced.spec);
    this.states.set(id, 'up');
  }

  private launchExtra(id: string, spec: NodeSpec): void {
    const started = this.local.startExtra(spec);
    this.current.set(id, started);
    this.incarnations.get(id)?.push(started);
  }

  async kill(id: string): Promise<void> {
    const node = this.proc(id);
    if (node.running && node.child !== null) {
      node.child.kill('SIGKILL');
      await node.exited;
    }
    if (this.state(id) !== 'removed') this.states.set(id, 'down');
  }

  pause(id: string): void {
    const node = this.proc(id);
    if (!node.running || node.child === null) return;
    node.child.kill('SIGSTOP');
    this.states.set(id, 'paused');
  }

  resume(id: string): void {
    const node = this.proc(id);
    if (node.running && node.child !== null) node.child.kill('SIGCONT');
    if (this.states.get(id) === 'paused') this.states.set(id, node.running ? 'up' : 'down');
  }

  /** Ends every pause and starts every member that is down (removed nodes stay out). */
  healProcesses(): void {
    for (const id of this.ids) {
      this.resume(id);
      if (this.state(id) === 'removed') continue;
      if (!this.proc(id).running) this.start(id);
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

  /** The configuration as the leader reports it, or null when no leader answers. */
  async members(): Promise<MemberView[] | null> {
    const leader = await this.findLeader();
    if (leader === null || this.state(leader.leaderId) !== 'up') return null;
    const reply = await this.probe.call(this.url(leader.leaderId), 'GET', '/v1/cluster', undefined, 1_000);
    if (reply.kind !== 'answer' || reply.status !== 200) return null;
    const members = (reply.body as { members?: unknown }).members;
    if (!Array.isArray(members)) return null;
    return members.map((member) => ({ id: String((member as { id?: unknown }).id), voter: (member as { voter?: unknown }).voter === true }));
  }

  /**
   * Removes `id` from the configuration through another member (the leader when known) and
   * kills its process once the removal is confirmed. 'refused' leaves everything as it was;
   * an answer lost on the way is settled by asking the configuration.
   */
  async removeMember(id: string): Promise<{ readonly outcome: 'removed' | 'refused'; readonly detail: string }> {
    const leader = await this.findLeader();
    const via = leader !== null && leader.leaderId !== id && this.state(leader.leaderId) === 'up'
      ? leader.leaderId
      : this.memberIds.find((other) => other !== id && this.state(other) === 'up');
    if (via === undefined) return { outcome: 'refused', detail: 'no other member up to ask' };
    const reply = await this.probe.call(this.url(via), 'DELETE', `/v1/cluster/members/${id}?timeoutMs=${MEMBERSHIP_DEADLINE_MS}`, undefined, MEMBERSHIP_DEADLINE_MS);
    let answer = reply.kind === 'answer' ? `${reply.status}${errorCode(reply) === '' ? '' : ` ${errorCode(reply)}`}` : reply.error;
    const reason = reply.kind === 'answer' ? (reply.body as { error?: { details?: { reason?: unknown }; reason?: unknown } } | undefined)?.error : undefined;
    const why = reason?.details?.reason ?? reason?.reason;
    if (typeof why === 'string') answer += ` (${why})`;
    let removed = reply.kind === 'answer' && reply.status === 200;
    if (!removed) {
      const view = await this.members();
      removed = view !== null && !view.some((member) => member.id === id);
    }
    if (!removed) return { outcome: 'refused', detail: `remove ${id} via ${via}: ${answer}` };
    this.resume(id);
    await this.kill(id);
    this.states.set(id, 'removed');
    return { outcome: 'removed', detail: `removed via ${via} (${answer}), process killed` };
  }

  /**
   * Brings a removed node back as a fresh member: a new data dir and `serve --join` through a
   * member that is up, under the same id, address and ports (its old data is never reused: a
   * removed member's log would be a stranger's to the cluster).
   */
  rejoin(id: string): string {
    const via = this.memberIds.find((other) => other !== id && this.state(other) === 'up') ?? this.memberIds.find((other) => other !== id);
    if (via === undefined) throw new Error(`no member to join ${id} through`);
    const base = this.local.node(id).spec;
    const spec: NodeSpec = { ...base, dataDir: path.join(this.local.root, `${id}-rejoin-${++this.rejoins}`), initialCluster: '', join: this.url(via) };
    this.launchExtra(id, spec);
    this.states.set(id, 'up');
    return `${id} joining through ${via}`;
  }

  /**
   * Waits until every node is a voter of the configuration the leader reports (a removed node
   * rejoined if needed, a join process that gave up started again on a fresh data dir).
   * Returns null when so, else what is still wrong at the deadline.
   */
  async ensureVoters(timeoutMs: number): Promise<string | null> {
    const deadline = performance.now() + timeoutMs;
    let problem = 'not checked';
    let lastRejoinMs = performance.now();
    for (const id of this.ids) if (this.state(id) === 'removed') this.rejoin(id);
    while (performance.now() < deadline) {
      const view = await this.members();
      if (view === null) problem = 'no leader answers';
      else {
        const missing = this.ids.filter((id) => !view.some((member) => member.id === id && member.voter));
        const extra = view.filter((member) => !this.ids.includes(member.id)).map((member) => member.id);
        if (missing.length === 0 && extra.length === 0) return null;
        problem = `voters missing: ${missing.join(',') || 'none'}; unknown members: ${extra.join(',') || 'none'}`;
        // A join that exited (a final refusal), or one that got nowhere for long (a node takes
        // seconds to start on a loaded machine, and catching up takes more): start over.
        if (performance.now() - lastRejoinMs > 2_000) {
          for (const id of missing) {
            const inConfig = view.some((member) => member.id === id);
            if (!this.proc(id).running || (!inConfig && performance.now() - lastRejoinMs > STALLED_JOIN_MS)) {
              await this.kill(id);
              this.rejoin(id);
              lastRejoinMs = performance.now();
            }
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return problem;
  }

  /** Each node's log as it printed it, every process it ran as (for the run folder). */
  logOf(id: string): string {
    return (this.incarnations.get(id) ?? []).map((node, at) => `${at === 0 ? '' : `--- incarnation ${at + 1}: ${node.spec.dataDir}\n`}${node.rawLines.join('\n')}`).join('\n');
  }

  /** For an exit handler, where nothing async runs any more: kill every node, drop the data. */
  killAllSync(): void {
    for (const node of [...this.incarnations.values()].flat()) {
      if (node.running && node.child !== null) {
        node.child.kill('SIGKILL');
        node.child.kill('SIGCONT');
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
