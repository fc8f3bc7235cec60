/**
 * Where a worker pool keeps its state in Concord, all under one prefix (the pool's name), and
 * the shape of each record. One place, so the submitter, the coordinator and the workers agree.
 *
 *   <pool>/jobs/<job>                   {input}               submitted once (put if absent)
 *   <pool>/assignments/<worker>/<job>   {coordinator, token}  written by the coordinator, fenced by its leadership
 *   <pool>/results/<job>                {worker, token, ...}  written by the worker, fenced by the job's lock, once
 *   service <pool>                                            the registry: one instance per live worker
 *   election <pool>.coordinator                               who hands out jobs
 *   lock <pool>.job.<job>                                     who works on a job
 */

export interface JobRecord {
  readonly input: number;
}

export interface AssignmentRecord {
  /** The worker id of the coordinator that made the assignment. */
  readonly coordinator: string;
  /** Its leadership token: a later coordinator's is greater. */
  readonly leadershipToken: number;
}

export interface ResultRecord {
  readonly worker: string;
  /** The fencing token of the job's lock the result was written under. */
  readonly token: number;
  readonly input: number;
  readonly output: number;
}

export class PoolKeys {
  constructor(readonly pool: string) {}

  get jobsPrefix(): string {
    return `${this.pool}/jobs/`;
  }

  job(jobId: string): string {
    return `${this.jobsPrefix}${jobId}`;
  }

  get assignmentsPrefix(): string {
    return `${this.pool}/assignments/`;
  }

  assignmentsOf(workerId: string): string {
    return `${this.assignmentsPrefix}${workerId}/`;
  }

  assignment(workerId: string, jobId: string): string {
    return `${this.assignmentsOf(workerId)}${jobId}`;
  }

  get resultsPrefix(): string {
    return `${this.pool}/results/`;
  }

  result(jobId: string): string {
    return `${this.resultsPrefix}${jobId}`;
  }

  /** The registry service the workers register under. */
  get service(): string {
    return this.pool;
  }

  get coordinatorElection(): string {
    return `${this.pool}.coordinator`;
  }

  jobLock(jobId: string): string {
    return `${this.pool}.job.${jobId}`;
  }
}

/** The last path segment of a key: the job id of a job, assignment or result key. */
export function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** The "work" a job stands for: the sum of the squares 1..input, deterministic so a test can check it. */
export function computeJob(input: number): number {
  let sum = 0;
  for (let n = 1; n <= input; n++) sum += n * n;
  return sum;
}
