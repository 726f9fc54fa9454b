/**
 * This node's part in the cluster (H1, H3, H4): every `leaseTtl / 3` it writes its heartbeat
 * (with the keystore revision its device channel serves), keeps or seeks the rotation lease, and
 * brings the network token file up to date.
 *
 *   follower ──acquire succeeds──▶ leader ──renew fails (expired / taken)──▶ follower
 *      ▲                             │
 *      └──────────stop(): release────┘
 *
 * The leader runs the rotation reconciler (`onLeadership(true)`); every write of a pass first
 * checks `fence()` in its own transaction, so a node that lost the lease while paused (SIGSTOP)
 * writes nothing when it resumes. See docs/design/cluster.md.
 */
import { ROTATION_LEASE, tokenFilePath, type HeldLease } from '../app/cluster.js';
import type { AppContext } from '../app/context.js';
import type { Repos } from '../app/store.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { formatNetworkToken } from '../domain/network-token.js';
import type { Scheduler, Timer } from '../domain/time.js';

export interface ClusterMemberLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ClusterMemberOptions {
  readonly ctx: AppContext;
  readonly nodeId: string;
  readonly dataDir: string;
  readonly leaseTtlMs: number;
  readonly scheduler: Scheduler;
  readonly log: ClusterMemberLog;
  /** The keystore revision the device channel serves now. */
  servedRevision(): number;
  /** Told when this node becomes the leader (true) or stops being it (false). */
  onLeadership(leader: boolean): void;
  /** Writes the token file; storage/atomic-file.ts in a server. */
  writeFile(path: string, data: string): Promise<void>;
}

export class ClusterMember {
  private lease: HeldLease | null = null;
  private timer: Timer | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;
  private written: { serial: number; path: string } | null = null;

  constructor(private readonly options: ClusterMemberOptions) {
    if (!(options.leaseTtlMs >= 3000)) throw new RangeError('the lease time must be at least 3 s');
  }

  get isLeader(): boolean {
    return this.lease !== null;
  }

  /** The first tick runs now; the caller awaits it so that a single node is the leader once started. */
  async start(): Promise<void> {
    await this.tick();
  }

  /** Ends the heartbeat and lets go of the lease, so that another node takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.ticking;
    const lease = this.lease;
    if (lease) {
      this.lease = null;
      this.options.onLeadership(false);
      await this.options.ctx.store.leases.release(lease).catch((e: unknown) => this.options.log.warn({ err: e }, 'could not release the rotation lease'));
    }
  }

  /**
   * The fence of a rotation pass (H4): in the pass's transaction, before it writes. Throws
   * `lease_lost` unless this node still holds the lease under the epoch it was taken with.
   */
  readonly fence = async (tx: Repos): Promise<void> => {
    const lease = this.lease;
    if (lease === null || !(await tx.leases.holds(lease, this.options.ctx.clock.now().toISOString()))) {
      throw new CertfleetError(ErrorCode.lease_lost, 'This node does not hold the rotation lease (any more); the leader runs the rotation.', {
        node: this.options.nodeId,
      });
    }
  };

  /** Writes the revision the device channel serves now into the registry (after a reload), and logs it. */
  async reportServedRevision(): Promise<void> {
    const revision = this.options.servedRevision();
    try {
      await this.options.ctx.store.cluster.heartbeat(this.options.nodeId, this.options.ctx.clock.now().toISOString(), revision);
      this.options.log.info({ revision }, 'serving keystore revision');
    } catch (e) {
      this.options.log.warn({ err: e, revision }, 'could not report the served revision; the next heartbeat does');
    }
  }

  /** Resolves once the heartbeat under way, if any, has ended (for tests that step fake time). */
  async idle(): Promise<void> {
    await this.ticking;
  }

  /** Brings the token file up to date now (after a keystore change this node heard of). */
  async syncTokenFile(): Promise<void> {
    const cluster = await this.options.ctx.store.cluster.get();
    if (!cluster) return;
    const path = tokenFilePath(cluster.tokenLocation, this.options.dataDir);
    if (this.written?.serial === cluster.token.serial && this.written.path === path) return;
    let error: string | null = null;
    try {
      await this.options.writeFile(path, formatNetworkToken(cluster.token));
      this.written = { serial: cluster.token.serial, path };
      this.options.log.info({ serial: cluster.token.serial, path }, 'wrote the network token');
    } catch (e) {
      // Never a reason to refuse anything (H3): shown in the log and the node's registry entry.
      error = `${path}: ${e instanceof Error ? e.message : String(e)}`;
      this.options.log.warn({ serial: cluster.token.serial, path, err: e }, 'could not write the network token');
    }
    await this.options.ctx.store.cluster.tokenWritten(this.options.nodeId, cluster.token.serial, error);
  }

  private tick(): Promise<void> {
    this.ticking ??= this.beat().finally(() => {
      this.ticking = null;
      if (!this.stopped) this.timer = this.options.scheduler.schedule(Math.floor(this.options.leaseTtlMs / 3), () => void this.tick());
    });
    return this.ticking;
  }

  private async beat(): Promise<void> {
    const { ctx, nodeId, leaseTtlMs, log } = this.options;
    const now = ctx.clock.now();
    const at = now.toISOString();
    const until = new Date(now.getTime() + leaseTtlMs).toISOString();
    try {
      await ctx.store.cluster.heartbeat(nodeId, at, this.options.servedRevision());
      if (this.lease) {
        if (!(await ctx.store.leases.renew(this.lease, at, until))) {
          log.warn({ epoch: this.lease.epoch }, 'lost the rotation lease');
          this.lease = null;
          this.options.onLeadership(false);
        }
      }
      if (!this.lease && !this.stopped) {
        const epoch = await ctx.store.leases.acquire(ROTATION_LEASE, nodeId, at, until);
        if (epoch !== null) {
          this.lease = { name: ROTATION_LEASE, holder: nodeId, epoch };
          log.info({ epoch }, 'took the rotation lease: this node is the leader');
          this.options.onLeadership(true);
        }
      }
      await this.syncTokenFile();
    } catch (e) {
      // The database is unreachable: a leader that cannot renew must assume it lost the lease
      // once it would have expired; the fence keeps its writes out meanwhile.
      log.error({ err: e }, 'cluster heartbeat failed');
    }
  }
}
