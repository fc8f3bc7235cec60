/**
 * How a node's Raft messages reach its peers. Best effort, like a network: a message may be
 * lost, delayed, duplicated or reordered, and Raft copes. The production implementation is
 * TCP with msgpackr frames (src/rpc); the simulator provides its own. Incoming messages are
 * handed to NodeHost.receive() by whoever owns the transport.
 */
import type { Message } from '../raft/messages.ts';

export interface Transport {
  /** Sends messages whose promises are already durable; never blocks, never throws. */
  send(messages: readonly Message[]): void;
}
