/**
 * Counters the TCP transport keeps for metrics. One mutable record shared by the transport's
 * parts (outbound peers, inbound connections); readers get a copy through TcpTransport.stats().
 */

export interface TransportStats {
  framesSent: number;
  messagesSent: number;
  bytesSent: number;
  framesReceived: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Oldest messages evicted because a peer's send queue was full. */
  messagesDroppedQueueFull: number;
  /** Messages that alone exceed the frame size limit. */
  messagesDroppedOversized: number;
  /** Messages addressed to a node that is not in the peer map. */
  messagesDroppedUnknownPeer: number;
  /** Messages still queued for a peer when it was removed or the transport closed. */
  messagesDroppedOnClose: number;
  /** Received messages whose `from` is not the handshaked node, or whose `to` is not us. */
  messagesDroppedMisaddressed: number;
  /** Inbound connections refused: wrong cluster, unknown node, too many pending, or timeout. */
  connectionsRefused: number;
  /** Connections closed because a frame was malformed, oversized or failed validation. */
  malformedFrames: number;
}

export function emptyStats(): TransportStats {
  return {
    framesSent: 0,
    messagesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    messagesDroppedQueueFull: 0,
    messagesDroppedOversized: 0,
    messagesDroppedUnknownPeer: 0,
    messagesDroppedOnClose: 0,
    messagesDroppedMisaddressed: 0,
    connectionsRefused: 0,
    malformedFrames: 0,
  };
}

/** Total messages lost inside this node's transport, whatever the reason. */
export function messagesDropped(stats: Readonly<TransportStats>): number {
  return (
    stats.messagesDroppedQueueFull +
    stats.messagesDroppedOversized +
    stats.messagesDroppedUnknownPeer +
    stats.messagesDroppedOnClose +
    stats.messagesDroppedMisaddressed
  );
}
