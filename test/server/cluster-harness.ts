/**
 * An in-process Concord cluster for the server tests: real KvNodes (MemoryStorage, SystemClock,
 * a small tick) joined by a transport that delivers through setImmediate, each behind its own
 * createHttpServer listening on 127.0.0.1:0, with members() returning the real URLs. Tests talk
 * HTTP to it with undici.
 */
import { emptyStats, type TransportStats } from '../../src/rpc/transport-stats.ts';
import pino from 'pino';
import { afterEach, beforeEach } from 'vitest';
import { request } from 'undici';
import { readAnswer } from '../support/http-answer.ts';
import { SystemClock } from '../../src/common/clock.ts';
import { SeededRandom } from '../../src/common/random.ts';
import { KvNode } from '../../src/node/kv-node.ts';
import type { Transport } from '../../src/node/transport.ts';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/config.ts';
import type { Message } from '../../src/raft/messages.ts';
import type { ClusterConfig } from '../../src/raft/types.ts';
import { createHttpServer, type HttpServer, type MemberInfo, type ServerLimits } from '../../src/server/index.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { KvStateMachineOptions } from '../../src/kv/index.ts';
import type { TlsMaterial } from '../../src/tls/tls-files.ts';

export interface TestMember {
  readonly id: string;
  readonly node: KvNode;
  readonly server: HttpServer;
  url: string;
}

export interface ClusterOptions {
  readonly size?: number;
  readonly limits?: Partial<ServerLimits>;
  readonly kv?: KvStateMachineOptions;
  /** Serve HTTPS (and require client certificates when it has a CA). */
  readonly tls?: TlsMaterial;
  /** --auth (and the bootstrap token's hash) on every node. */
  readonly auth?: { readonly enabled: boolean; readonly bootstrapTokenHash?: string };
}

const TICK_MS = 10;

/** Delivers each message on a later turn, dropping those to stopped or cut-off nodes. */
class InProcessNetwork {
  readonly nodes = new Map<string, KvNode>();
  readonly isolated = new Set<string>();
  /** Per sender, counted as the TCP transport counts them (one send call = one frame). */
  readonly stats = new Map<string, TransportStats>();
  /** Sees every send call (one frame per peer in the TCP transport) before delivery. */
  onSend: ((from: string, messages: readonly Message[]) => void) | null = null;
  /** Appends held back from a node (holdAppendsTo), in the order they were sent. */
  private readonly heldAppends = new Map<string, Message[]>();

  /**
   * Holds back every append to `id` (entries and commit indexes alike) until the returned
   * function releases them, in order: the node stays behind its leader while everything else
   * (heartbeats, ReadIndex rounds, its own requests) flows.
   */
  holdAppendsTo(id: string): () => void {
    this.heldAppends.set(id, []);
    return () => {
      const held = this.heldAppends.get(id) ?? [];
      this.heldAppends.delete(id);
      for (const message of held) this.deliver(message.from, message);
    };
  }

  private deliver(from: string, message: Message): void {
    setImmediate(() => {
      if (this.isolated.has(from) || this.isolated.has(message.to)) return;
      this.nodes.get(message.to)?.receive(message);
    });
  }

  transportFor(from: string): Transport {
    const stats = emptyStats();
    this.stats.set(from, stats);
    return {
      send: (messages: readonly Message[]) => {
        stats.framesSent += 1;
        stats.messagesSent += messages.length;
        this.onSend?.(from, messages);
        for (const message of messages) {
          const held = message.type === 'append' ? this.heldAppends.get(message.to) : undefined;
          if (held !== undefined) held.push(message);
          else this.deliver(from, message);
        }
      },
    };
  }
}

export class TestCluster {
  readonly members: TestMember[] = [];
  readonly network = new InProcessNetwork();

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const cluster = new TestCluster();
    await cluster.boot(options);
    return cluster;
  }

  private options: ClusterOptions = {};

  /** The member table a node reports: its own configuration, with the test's addresses. */
  private memberTable(node: KvNode): MemberInfo[] {
    const { voters, learners } = node.host.raft.members;
    const view = (id: string, voter: boolean): MemberInfo => ({
      id,
      peerAddress: `mem:${id}`,
      clientUrl: this.members.find((member) => member.id === id)?.url ?? '',
      voter,
    });
    return [...voters.map((id) => view(id, true)), ...learners.map((id) => view(id, false))];
  }

  private async boot(options: ClusterOptions): Promise<void> {
    this.options = options;
    const ids = Array.from({ length: options.size ?? 3 }, (_, i) => `n${i + 1}`);
    for (const id of ids) this.create(id, { voters: ids, learners: [] });
    for (const member of this.members) {
      const address = await member.server.app.listen({ host: '127.0.0.1', port: 0 });
      member.url = address;
    }
    for (const member of this.members) member.node.start();
  }

  /**
   * Starts one more node that belongs to no configuration yet (as `concord serve --join`
   * would): it idles until a membership change adds it.
   */
  async addNode(id: string): Promise<TestMember> {
    const member = this.create(id, { voters: [], learners: [] });
    member.url = await member.server.app.listen({ host: '127.0.0.1', port: 0 });
    member.node.start();
    return member;
  }

  private create(id: string, bootstrap: ClusterConfig): TestMember {
    const options = this.options;
    const clock = new SystemClock();
    const logger = pino({ level: process.env.CONCORD_TEST_LOG ?? 'silent' });
    const index = this.members.length;
    const storage = new MemoryStorage({ dataDir: `memory-${id}` });
    const node = new KvNode({
      raftConfig: { ...DEFAULT_RAFT_CONFIG, id },
      bootstrap,
      persisted: storage.loadNow(),
      random: new SeededRandom(1000 + index),
      clock,
      transport: this.network.transportFor(id),
      storage,
      tickMs: TICK_MS,
      snapshotEveryEntries: 10_000,
      maxPendingProposals: 10_000,
      maxPendingReads: 10_000,
      ...(options.kv === undefined ? {} : { kv: options.kv }),
    });
    this.network.nodes.set(id, node);
    const server = createHttpServer({
      node,
      clusterId: 'test-cluster',
      nodeId: id,
      logger: logger.child({ node: id }),
      members: () => this.memberTable(node),
      peerStates: () =>
        Object.fromEntries(
          this.memberTable(node)
            .filter((peer) => peer.id !== id)
            .map((peer) => [peer.id, this.network.isolated.has(peer.id) || this.network.isolated.has(id) ? 'disconnected' : 'connected']),
        ),
      transportStats: () => this.network.stats.get(id) ?? emptyStats(),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      limits: { watchProgressIntervalMs: 200, leaderPollIntervalMs: 10, shutdownGraceMs: 200, ...options.limits },
    });
    const member: TestMember = { id, node, server, url: '' };
    this.members.push(member);
    return member;
  }

  member(id: string): TestMember {
    const found = this.members.find((member) => member.id === id);
    if (found === undefined) throw new Error(`no member ${id}`);
    return found;
  }

  /** Waits (bounded) until every node agrees on one leader; returns it. */
  async waitForLeader(timeoutMs = 5000): Promise<TestMember> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      // Nodes outside their own configuration (not yet added, or removed) follow nobody.
      const inCluster = this.members.filter(({ id, node }) => {
        const { voters, learners } = node.host.raft.members;
        return voters.includes(id) || learners.includes(id);
      });
      const leaders = new Set(inCluster.map((member) => member.node.host.raft.leader));
      const [leader] = [...leaders];
      if (leaders.size === 1 && leader !== undefined && leader !== '') {
        const member = this.member(leader);
        if (member.node.host.role === 'leader') return member;
      }
      await sleep(10);
    }
    throw new Error('no leader elected within the bound');
  }

  async leader(): Promise<TestMember> {
    return this.waitForLeader();
  }

  async followers(): Promise<TestMember[]> {
    const leader = await this.waitForLeader();
    return this.members.filter((member) => member.id !== leader.id);
  }

  async stop(): Promise<void> {
    for (const member of this.members) {
      await member.server.close();
      member.node.stop();
    }
  }
}

/**
 * A fresh cluster with a leader for every test of the enclosing describe, stopped after each.
 * Returns a getter: the cluster exists only once beforeEach has run.
 */
export function useClusterPerTest(): () => TestCluster {
  let cluster: TestCluster | undefined;
  beforeEach(async () => {
    cluster = await TestCluster.start();
    await cluster.waitForLeader();
  });
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });
  return () => {
    if (cluster === undefined) throw new Error('useClusterPerTest: no cluster outside a test');
    return cluster;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request with a bounded wait; a JSON `json` is sent with its content type. */
export async function call(
  baseUrl: string,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  path: string,
  options: { json?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  } else if (options.rawBody !== undefined) {
    body = options.rawBody;
  }
  const response = await request(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  return readAnswer(response);
}
