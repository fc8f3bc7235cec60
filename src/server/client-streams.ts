/**
 * Streams (watch, service watch, election observe) open per client, bounded so that one client
 * cannot take the whole node's share of streams (limits.maxWatchers) for itself. A client is
 * its remote address: authentication may be off, and a token would not bound an anonymous
 * caller anyway. Clients behind one NAT or proxy share the bound — raise maxWatchersPerClient
 * for such deployments.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConcordError } from '../common/errors.ts';

export class ClientStreamQuota {
  private readonly openByClient = new Map<string, number>();

  constructor(private readonly maxPerClient: number) {}

  /** Streams `client` holds now. */
  openFor(client: string): number {
    return this.openByClient.get(client) ?? 0;
  }

  /**
   * Counts one more stream for the request's client until its response closes (a stream that
   * ends, a client that goes away, or an error answer sent instead); throws 429 `overloaded`
   * when the client already holds maxPerClient.
   */
  admit(request: FastifyRequest, reply: FastifyReply): void {
    const client = request.ip;
    const open = this.openFor(client);
    if (open >= this.maxPerClient) {
      throw new ConcordError('overloaded', `this client (${client}) already has ${open} streams open on this node, the most allowed per client`);
    }
    this.openByClient.set(client, open + 1);
    reply.raw.once('close', () => {
      const remaining = this.openFor(client) - 1;
      if (remaining > 0) this.openByClient.set(client, remaining);
      else this.openByClient.delete(client);
    });
  }
}
