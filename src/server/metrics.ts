/**
 * ConcordMetrics: the node's Prometheus metrics, on a registry of its own (several nodes in one
 * process — the tests — must not share the global one). Raft state is read at scrape time; leader
 * changes are counted by a sampler, so changes between scrapes are not lost; proposals, HTTP
 * requests and fsyncs are observed where they happen. The process feeds fsync latency through
 * observeFsync(), since only it sees the storage's writes.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { KvNode } from '../node/kv-node.ts';
import { messagesDropped, type TransportStats } from '../rpc/transport-stats.ts';
import { LatencyHistogram, type LatencySeries } from './latency-histogram.ts';
import { RuntimeMetrics } from './runtime-metrics.ts';

export type PeerConnectionState = 'connected' | 'connecting' | 'disconnected';

const PEER_STATES: readonly PeerConnectionState[] = ['connected', 'connecting', 'disconnected'];

export interface MetricsSources {
  readonly node: KvNode;
  readonly peerStates?: () => Readonly<Record<string, PeerConnectionState>>;
  /** The peer transport's counters (absent in tests that run nodes without one). */
  readonly transportStats?: () => Readonly<TransportStats>;
  readonly sampleIntervalMs: number;
}

/** Latency buckets (seconds) from 0.5 ms to 10 s: fsyncs and proposals live at the low end. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What one method on one route pattern has answered: counts by status, and its durations. */
interface RouteStats {
  readonly method: string;
  readonly route: string;
  readonly statuses: Map<number, number>;
  readonly seconds: LatencySeries;
}

export class ConcordMetrics {
  readonly registry = new Registry();
  // Observed on every request or proposal, so counted in plain tables and handed to prom-client
  // only at scrape time (its labelled inc/observe hash a label object on each call).
  private readonly proposalOutcomes = new Map<string, number>();
  private readonly proposalSeconds: LatencySeries;
  private readonly fsyncSeconds: LatencySeries;
  /** Route pattern → method → stats. */
  private readonly routes = new Map<string, Map<string, RouteStats>>();
  private readonly httpSeconds: LatencyHistogram;
  private readonly leaderChanges: Counter;
  private readonly watchStreams: Gauge;
  private readonly sampler: ReturnType<typeof setInterval>;
  private readonly runtime: RuntimeMetrics;
  private lastLeader: string;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    const raft = (): KvNode['host']['raft'] => sources.node.host.raft;
    this.lastLeader = raft().leader;
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    gauge('concord_raft_term', 'Current Raft term of this node.', () => raft().currentTerm);
    gauge('concord_raft_commit_index', 'Highest log index known committed.', () => raft().commitIndex);
    gauge('concord_raft_applied_index', 'Highest log index applied to the state machine.', () => raft().appliedIndex);
    gauge('concord_raft_is_leader', '1 when this node is the leader.', () => (raft().currentRole === 'leader' ? 1 : 0));
    gauge('concord_raft_has_leader', '1 when this node knows a leader.', () => (raft().leader === '' ? 0 : 1));
    gauge('concord_kv_revision', 'Store revision of the local state machine.', () => sources.node.kv.revision);
    this.leaderChanges = new Counter({
      name: 'concord_raft_leader_changes_total',
      help: 'Leader changes this node has seen (a new leader became known).',
      registers,
    });
    const proposalOutcomes = this.proposalOutcomes;
    new Counter({
      name: 'concord_proposals_total',
      help: 'Proposals submitted by this node, by outcome.',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const [outcome, count] of proposalOutcomes) this.inc({ outcome }, count);
      },
    });
    const histogram = (name: string, help: string): LatencyHistogram => new LatencyHistogram(name, help, LATENCY_BUCKETS, this.registry);
    this.proposalSeconds = histogram('concord_proposal_duration_seconds', 'Time from proposing a command to its apply (successful proposals).').series({});
    this.fsyncSeconds = histogram(
      'concord_storage_fsync_duration_seconds',
      'Duration of synced storage writes (one per Ready with entries or hard state).',
    ).series({});
    new Gauge({
      name: 'concord_peer_connection_state',
      help: 'Connection state of each peer: 1 for the state it is in, 0 for the others.',
      labelNames: ['peer', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [peer, current] of Object.entries(sources.peerStates?.() ?? {})) {
          for (const state of PEER_STATES) this.set({ peer, state }, state === current ? 1 : 0);
        }
      },
    });
    // Messages per frame and frames per proposal show how well sends coalesce (each frame is
    // one socket write, the dearest part of replication on a busy node).
    const transportCounter = (name: string, help: string, read: (stats: Readonly<TransportStats>) => number): void => {
      const stats = sources.transportStats;
      if (stats === undefined) return;
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(stats())); } });
    };
    transportCounter('concord_peer_frames_sent_total', 'Frames (socket writes) sent to peers.', (s) => s.framesSent);
    transportCounter('concord_peer_messages_sent_total', 'Raft messages sent to peers.', (s) => s.messagesSent);
    transportCounter('concord_peer_bytes_sent_total', 'Bytes sent to peers.', (s) => s.bytesSent);
    transportCounter('concord_peer_frames_received_total', 'Frames received from peers.', (s) => s.framesReceived);
    transportCounter('concord_peer_messages_received_total', 'Raft messages received from peers.', (s) => s.messagesReceived);
    transportCounter('concord_peer_messages_dropped_total', 'Messages the transport dropped (full queue, oversized, unknown peer, closing, misaddressed).', messagesDropped);
    const routes = this.routes;
    new Counter({
      name: 'concord_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
      collect() {
        this.reset();
        for (const byMethod of routes.values()) {
          for (const { method, route, statuses } of byMethod.values()) {
            for (const [status, count] of statuses) this.inc({ method, route, status: String(status) }, count);
          }
        }
      },
    });
    this.httpSeconds = histogram('concord_http_request_duration_seconds', 'HTTP request duration by method and route pattern (watch streams excluded).');
    this.watchStreams = new Gauge({ name: 'concord_watch_streams', help: 'Open watch streams.', registers });
    this.runtime = new RuntimeMetrics(this.registry);
    this.sampler = setInterval(() => this.sampleLeader(), sources.sampleIntervalMs);
    this.sampler.unref();
  }

  /** The process reports each synced storage write's duration. */
  observeFsync(seconds: number): void {
    this.fsyncSeconds.observe(seconds);
  }

  observeProposal(outcome: string, seconds: number): void {
    this.proposalOutcomes.set(outcome, (this.proposalOutcomes.get(outcome) ?? 0) + 1);
    if (outcome === 'applied') this.proposalSeconds.observe(seconds);
  }

  observeHttpRequest(method: string, route: string, status: number, seconds: number | null): void {
    let byMethod = this.routes.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.routes.set(route, byMethod);
    }
    let stats = byMethod.get(method);
    if (stats === undefined) {
      stats = { method, route, statuses: new Map(), seconds: this.httpSeconds.series({ method, route }) };
      byMethod.set(method, stats);
    }
    stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
    if (seconds !== null) stats.seconds.observe(seconds);
  }

  watchOpened(): void {
    this.watchStreams.inc();
  }

  watchClosed(): void {
    this.watchStreams.dec();
  }

  /** The exposition text of every metric. */
  async text(): Promise<string> {
    this.sampleLeader();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  stop(): void {
    clearInterval(this.sampler);
    this.runtime.stop();
  }

  private sampleLeader(): void {
    const leader = this.sources.node.host.raft.leader;
    if (leader === this.lastLeader) return;
    this.lastLeader = leader;
    if (leader !== '') this.leaderChanges.inc();
  }
}
