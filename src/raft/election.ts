/**
 * Terms and elections: the rules every message obeys before its type matters (a higher term
 * makes us follow it, unless CheckQuorum's lease protects a leader we still hear from; a lower
 * term is answered so a deposed leader steps down), the election timer, PreVote and the vote
 * itself, and counting the votes. Functions of the RaftNode they act on, as in leader.ts and
 * follower.ts; the role transitions (becomeFollower, becomeLeader) stay in raft-node.ts.
 */
import type { PreVoteRequest, RaftMessage, VoteRequest, VoteResponse } from './messages.ts';
import { voteOutcome } from './quorum.ts';
import type { RaftNode } from './raft-node.ts';
import { NO_NODE } from './types.ts';

/**
 * A follower told its leader is gone campaigns within this many ticks (300 ms with
 * `concord serve`'s 100 ms ticks) rather than a whole election timeout.
 */
export const LEADER_GONE_CAMPAIGN_TICKS = 3;

/**
 * Campaigns after a leader-gone notice that may retry early: when both survivors were told at
 * once, their campaigns can overlap and split the vote (each votes for itself), which the
 * election timeout would resolve only after 1–2 s. Such a campaign instead retries within
 * QUICK_RETRY_MIN_TICKS to QUICK_RETRY_MIN_TICKS + LEADER_GONE_CAMPAIGN_TICKS - 1 ticks, at
 * most this many times (a pre-vote round and a vote round count one each, so two elections);
 * then the election timeout rules again.
 */
export const LEADER_GONE_QUICK_CAMPAIGNS = 4;
/** Ticks a quick campaign waits at least before it retries: time for its votes to arrive. */
export const QUICK_RETRY_MIN_TICKS = 2;

// ---- Term handling ------------------------------------------------------------------------

/** Applies the rules every message obeys before its type matters; false = drop it. */
export function handleTerm(node: RaftNode, message: RaftMessage): boolean {
  if (message.term > node.term) return handleHigherTerm(node, message);
  if (message.term < node.term) {
    handleLowerTerm(node, message);
    return false;
  }
  return true;
}

function handleHigherTerm(node: RaftNode, message: RaftMessage): boolean {
  if (message.type === 'pre-vote' || message.type === 'vote') {
    const forced = message.type === 'vote' && message.transfer;
    // CheckQuorum's lease: while we hear from a leader, refuse to help unseat it. This keeps
    // a node that was partitioned away (and bumped its term) from disrupting the cluster.
    const inLease =
      node.config.checkQuorum && node.lead !== NO_NODE && node.electionElapsed < node.config.electionTicks;
    if (!forced && inLease) return false;
  }
  if (message.type === 'pre-vote') return true; // never changes our term
  if (message.type === 'pre-vote-response' && message.granted) return true; // the future term
  const fromLeader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot';
  node.becomeFollower(message.term, fromLeader ? message.from : NO_NODE);
  return true;
}

function handleLowerTerm(node: RaftNode, message: RaftMessage): void {
  if (message.type === 'append' || message.type === 'heartbeat') {
    // A deposed leader still thinks it leads: our higher term in the answer makes it step down.
    node.send({
      type: 'append-response',
      from: node.id,
      to: message.from,
      term: node.term,
      success: false,
      matchIndex: 0,
      rejectedIndex: 0,
      conflictTerm: 0,
      conflictIndex: 0,
    });
  } else if (message.type === 'pre-vote') {
    node.send({ type: 'pre-vote-response', from: node.id, to: message.from, term: node.term, granted: false });
  }
}

// ---- Elections ----------------------------------------------------------------------------

/** A follower's (or candidate's) tick: campaign once the leader has been silent long enough. */
export function tickElection(node: RaftNode): void {
  node.electionElapsed++;
  // A learner keeps counting instead of starting over: once its leader has been silent for an
  // election timeout it must stay out of CheckQuorum's lease, or it would drop (most of) the
  // vote requests of a candidate that already counts it as a voter (its promotion is in the
  // candidate's log, not yet in ours) and a cluster that needs its vote could never elect.
  if (node.electionElapsed < node.randomizedElectionTimeout || !node.isVoter(node.id)) return;
  node.electionElapsed = 0;
  campaign(node, node.config.preVote ? 'pre-vote' : 'vote');
}

export function campaign(node: RaftNode, kind: 'pre-vote' | 'vote' | 'transfer'): void {
  const voteTerm = node.term + 1;
  if (kind === 'pre-vote') {
    // A pre-candidate keeps its term and vote: it only asks whether it could win.
    node.role = 'pre-candidate';
    node.lead = NO_NODE;
    node.resetRandomizedElectionTimeout();
    node.dropForwardedReads();
  } else {
    node.reset(voteTerm);
    node.role = 'candidate';
    node.vote = node.id;
  }
  node.campaignIsTransfer = kind === 'transfer';
  node.votes.clear();
  node.votes.set(node.id, true);
  if (tallyVotes(node)) return;
  if (node.quickCampaigns > 0) {
    // Prompted by a leader-gone notice: if this round elects no one (a split vote), retry soon.
    node.quickCampaigns--;
    node.electionElapsed = node.randomizedElectionTimeout - QUICK_RETRY_MIN_TICKS - node.random.int(LEADER_GONE_CAMPAIGN_TICKS);
  }
  for (const voter of node.quorumVoters()) {
    if (voter === node.id) continue;
    const base = {
      from: node.id,
      to: voter,
      term: voteTerm,
      lastLogIndex: node.log.lastIndex(),
      lastLogTerm: node.log.lastTerm(),
    };
    if (kind === 'pre-vote') node.send({ type: 'pre-vote', ...base } satisfies PreVoteRequest);
    else node.send({ type: 'vote', ...base, transfer: kind === 'transfer' } satisfies VoteRequest);
  }
}

export function handleVoteRequest(node: RaftNode, request: PreVoteRequest | VoteRequest): void {
  const isPreVote = request.type === 'pre-vote';
  const canVote =
    node.vote === request.from ||
    (node.vote === NO_NODE && node.lead === NO_NODE) ||
    (isPreVote && request.term > node.term);
  const granted = canVote && node.logIsUpToDate(request.lastLogIndex, request.lastLogTerm);
  node.send({
    type: isPreVote ? 'pre-vote-response' : 'vote-response',
    from: node.id,
    to: request.from,
    term: granted ? request.term : node.term,
    granted,
  });
  if (granted && !isPreVote) {
    node.electionElapsed = 0;
    node.vote = request.from;
    node.quickCampaigns = 0; // we back another candidate: an early campaign of ours would compete
  }
}

export function handleVoteResponse(node: RaftNode, response: VoteResponse): void {
  const expected = node.role === 'pre-candidate' ? 'pre-vote-response' : 'vote-response';
  if (response.type !== expected || (node.role !== 'pre-candidate' && node.role !== 'candidate')) return;
  if (!node.quorumVoters().includes(response.from)) return;
  if (!response.granted && response.type === 'pre-vote-response') node.observe('pre-vote-rejected');
  node.votes.set(response.from, response.granted);
  tallyVotes(node);
}

/** Acts on the election's outcome; true when it is decided. */
function tallyVotes(node: RaftNode): boolean {
  const outcome = voteOutcome(node.quorumVoters(), node.votes);
  if (outcome === 'pending') return false;
  if (outcome === 'lost') {
    node.becomeFollower(node.term, NO_NODE);
  } else if (node.role === 'pre-candidate') {
    campaign(node, node.campaignIsTransfer ? 'transfer' : 'vote');
  } else {
    node.becomeLeader();
  }
  return true;
}
