/**
 * The first admin: while this node leads and the replicated state has no user holding admin, it
 * proposes the bootstrap token's hash (authBootstrap), which creates role `root`, user `root` and
 * token `bootstrap`. Applying it again once an admin exists changes nothing, so every leader of
 * every node started with the file may propose it; it is looked at every `intervalMs` (cheap:
 * two field reads) because leadership and the applied state both move under it.
 *
 * Once an admin exists the file is only read, never acted on: a changed file does not replace
 * the bootstrap token (that would let whoever can write the file on any node take over). A
 * leader whose file's token is not a live token says so once in the log.
 */
import type { Logger } from 'pino';
import type { KvNode } from '../../node/kv-node.ts';

export interface BootstrapOptions {
  readonly node: KvNode;
  readonly tokenHash: string;
  readonly logger: Logger;
  readonly intervalMs: number;
}

export class AuthBootstrapper {
  private readonly timer: ReturnType<typeof setInterval>;
  private inFlight = false;
  private reportedStale = false;

  constructor(private readonly options: BootstrapOptions) {
    this.timer = setInterval(() => this.check(), options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const { node, tokenHash, logger } = this.options;
    if (this.inFlight || !node.host.isRunning || node.host.raft.leader !== node.id) return;
    const auth = node.kv.auth;
    if (auth.hasAdmin()) {
      if (!this.reportedStale && auth.tokenByHash(tokenHash) === undefined) {
        this.reportedStale = true;
        logger.warn('the bootstrap token file holds no live token (an admin exists, so the file is ignored; see docs/security.md)');
      }
      return;
    }
    this.inFlight = true;
    try {
      node.submit({ type: 'authBootstrap', hash: tokenHash }, {}, (outcome) => {
        this.inFlight = false;
        if (!outcome.ok) return; // leadership moved: the next leader (maybe this node again) tries
        const result = outcome.result.result;
        if ('bootstrapped' in result && result.bootstrapped) logger.info('auth bootstrapped: user root holds admin with the bootstrap token');
      });
    } catch (error) {
      // Refused before the log (a node stopping): look again at the next interval.
      this.inFlight = false;
      logger.warn({ err: error }, 'proposing the bootstrap token failed');
    }
  }
}
