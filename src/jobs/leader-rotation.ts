/**
 * The rotation runner of a cluster node (H4): the reconciler runs only while this node holds the
 * rotation lease. On the leader, `sync run` and the triggers go to its reconciler; on a follower
 * they are handed to the leader (a notification through the database), and `sync run` waits for
 * the leader's report, so it runs under the same lease whichever node it was asked on.
 *
 *   follower ──lease taken──▶ leader: a new reconciler starts (a first pass at once)
 *   leader ──lease lost / stop──▶ follower: the reconciler stops (a running pass ends; its writes
 *                                 are fenced by the lease, so a late one is refused)
 */
import type { Actor } from '../app/context.js';
import type { RotationReport, RotationRunner, RotationTrigger } from '../app/rotation.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import type { RotationReconciler } from './rotation.reconciler.js';

/** How a follower reaches the leader; null on a single node (SQLite), which is always the leader. */
export interface LeaderLink {
  /** Asks the leader for a pass on behalf of `actor`, and waits for its report. */
  requestPass(actor: Actor): Promise<RotationReport>;
  /** Asks the leader for a pass soon; returns at once. */
  nudge(reason: RotationTrigger): void;
}

export class LeaderRotation implements RotationRunner {
  private current: RotationReconciler | null = null;
  private stopping: Promise<void> = Promise.resolve();

  constructor(
    private readonly makeReconciler: () => RotationReconciler,
    private readonly link: LeaderLink | null,
  ) {}

  get isRunning(): boolean {
    return this.current !== null;
  }

  /** Follows the lease: a reconciler while this node leads, none otherwise. */
  setLeader(leader: boolean): void {
    if (leader && this.current === null) {
      const reconciler = this.makeReconciler();
      this.current = reconciler;
      // A reconciler that is still stopping (lease lost a moment ago) finishes first.
      void this.stopping.then(() => {
        if (this.current === reconciler) reconciler.start();
      });
    } else if (!leader && this.current !== null) {
      const old = this.current;
      this.current = null;
      this.stopping = old.stop();
    }
  }

  runNow(actor: Actor): Promise<RotationReport> {
    if (this.current) return this.current.runNow(actor);
    if (this.link) return this.link.requestPass(actor);
    return Promise.reject(
      new CertfleetError(ErrorCode.lease_lost, 'No node leads the rotation right now (the lease is being taken over); try again in a few seconds.'),
    );
  }

  trigger(reason: RotationTrigger): void {
    if (this.current) this.current.trigger(reason);
    else this.link?.nudge(reason);
  }

  async stop(): Promise<void> {
    this.setLeader(false);
    await this.stopping;
  }
}

