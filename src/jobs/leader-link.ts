/**
 * A follower's line to the rotation leader (H4), over the database's notifications:
 *
 *   follower ── rotation-request {id, actor} ──▶ every node; the leader runs the pass
 *   leader   ── rotation-done {id, report | error} ──▶ every node; the follower that asked answers
 *
 * A request nobody answers within `timeoutMs` (no leader: the lease is being taken over) fails
 * with a message that says so; it never waits forever.
 */
import type { Actor } from '../app/context.js';
import type { RotationReport, RotationRunner, RotationTrigger } from '../app/rotation.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { isRole } from '../domain/roles.js';
import type { Scheduler } from '../domain/time.js';
import type { LeaderLink } from './leader-rotation.js';

export const ROTATION_REQUEST_CHANNEL = 'rotation-request';
export const ROTATION_DONE_CHANNEL = 'rotation-done';

interface RequestMessage {
  readonly id: string;
  /** Null: a trigger (nobody waits). */
  readonly actor: Actor | null;
  readonly reason: RotationTrigger;
}

type DoneMessage = { readonly id: string } & ({ readonly report: RotationReport } | { readonly error: { readonly code: string; readonly message: string } });

export interface NotificationLinkOptions {
  notify(channel: string, payload: string): Promise<void>;
  readonly scheduler: Scheduler;
  newId(): string;
  readonly timeoutMs: number;
}

function parse<T>(payload: string): T | null {
  try {
    return JSON.parse(payload) as T; // our own messages, sent by another node of this cluster
  } catch {
    return null;
  }
}

function actorOf(value: unknown): Actor | null {
  if (typeof value !== 'object' || value === null) return null;
  const a = value as Record<string, unknown>; // checked field by field
  if (typeof a['userId'] !== 'string' || typeof a['username'] !== 'string' || typeof a['role'] !== 'string' || !isRole(a['role'])) return null;
  return { userId: a['userId'], username: a['username'], role: a['role'], tokenId: null };
}

export class NotificationLeaderLink implements LeaderLink {
  private readonly waiting = new Map<string, { resolve(r: RotationReport): void; reject(e: unknown): void }>();

  constructor(private readonly options: NotificationLinkOptions) {}

  requestPass(actor: Actor): Promise<RotationReport> {
    const id = this.options.newId();
    return new Promise<RotationReport>((resolve, reject) => {
      const timer = this.options.scheduler.schedule(this.options.timeoutMs, () => {
        this.waiting.delete(id);
        reject(new CertfleetError(ErrorCode.lease_lost, `No rotation leader answered within ${this.options.timeoutMs / 1000} s (the lease may be changing hands); try again.`));
      });
      this.waiting.set(id, {
        resolve: (r) => {
          timer.cancel();
          resolve(r);
        },
        reject: (e) => {
          timer.cancel();
          reject(e);
        },
      });
      const message: RequestMessage = { id, actor: { userId: actor.userId, username: actor.username, role: actor.role, tokenId: null }, reason: 'requested' };
      this.options.notify(ROTATION_REQUEST_CHANNEL, JSON.stringify(message)).catch((e: unknown) => {
        this.waiting.delete(id);
        timer.cancel();
        reject(e);
      });
    });
  }

  nudge(reason: RotationTrigger): void {
    const message: RequestMessage = { id: this.options.newId(), actor: null, reason };
    // A trigger is best effort: the leader's timer and its own notifications catch up anyway.
    this.options.notify(ROTATION_REQUEST_CHANNEL, JSON.stringify(message)).catch(() => undefined);
  }

  /** The follower's side: a leader finished a pass someone asked for. */
  onDone(payload: string): void {
    const m = parse<DoneMessage>(payload);
    if (!m || typeof m.id !== 'string') return;
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if ('report' in m) w.resolve(m.report);
    else w.reject(new CertfleetError(ErrorCode.internal, `The rotation leader could not run the pass: ${m.error.message}`));
  }

  /**
   * The leader's side: a follower asked. Only the node whose runner leads acts (`isLeader`), so
   * exactly one pass runs per request.
   */
  onRequest(payload: string, runner: RotationRunner, isLeader: () => boolean): void {
    const m = parse<RequestMessage>(payload);
    if (!m || typeof m.id !== 'string' || !isLeader()) return;
    const actor = actorOf(m.actor);
    if (actor === null) {
      runner.trigger(m.reason);
      return;
    }
    runner.runNow(actor).then(
      (report) => this.options.notify(ROTATION_DONE_CHANNEL, JSON.stringify({ id: m.id, report })),
      (e: unknown) =>
        this.options.notify(
          ROTATION_DONE_CHANNEL,
          JSON.stringify({ id: m.id, error: { code: e instanceof CertfleetError ? e.code : 'internal', message: e instanceof Error ? e.message : String(e) } }),
        ),
    ).catch(() => undefined);
  }
}
