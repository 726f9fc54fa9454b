/**
 * Accounts, log-in and API tokens (SPEC section 5, "Accounts"). Passwords are stored as scrypt
 * hashes, tokens as SHA-256 of 32 random bytes; neither is ever returned once it has been shown.
 */
import { DAY_MS } from '../domain/time.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { isRole, Permission, Role, ROLES } from '../domain/roles.js';
import {
  generatePassword,
  hashApiToken,
  hashPassword,
  newApiToken,
  UNUSABLE_PASSWORD_HASH,
  verifyPassword,
} from '../crypto/password-hash.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import { AuditResult } from '../domain/vocabularies.js';
import { FailedLoginKind, type FailedLoginRecorder } from './failed-logins.js';
import type { TokenRecord, UserRecord } from './records.js';

export interface NewUser extends UserRecord {
  readonly passwordHash: string;
}

export interface UserRepo {
  create(user: NewUser): Promise<void>;
  findByUsername(username: string): Promise<(UserRecord & { readonly passwordHash: string }) | null>;
  list(): Promise<UserRecord[]>;
  /** Also removes the user's API tokens. */
  remove(id: string): Promise<void>;
  countByRole(role: Role): Promise<number>;
  count(): Promise<number>;
}

export interface TokenRepo {
  create(token: TokenRecord & { readonly tokenHash: string }): Promise<void>;
  /** The token with this hash and its user, if it has not expired at `now`. */
  findValid(tokenHash: string, now: string): Promise<{ token: TokenRecord; user: UserRecord } | null>;
  touch(id: string, at: string): Promise<void>;
  remove(id: string): Promise<void>;
  listForUser(userId: string): Promise<TokenRecord[]>;
}

export const MIN_PASSWORD_LENGTH = 8;
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Names the audit log uses for actors that are no account: an account must not pass for them. */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set(['system', 'anonymous']);
/** A log-in (console or `certfleet login`) lasts a week; named API tokens up to a year. */
export const LOGIN_TOKEN_DAYS = 7;
export const MAX_API_TOKEN_DAYS = 365;
/** Last-use time is written at most this often per token, so reads do not become writes. */
const TOUCH_INTERVAL_MS = 60_000;

function addDays(d: Date, days: number): string {
  return new Date(d.getTime() + days * DAY_MS).toISOString();
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new CertfleetError(
      ErrorCode.password_too_short,
      `The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`,
      { minimum: MIN_PASSWORD_LENGTH },
    );
  }
}

export interface IssuedToken {
  /** Shown once; only its hash is stored. */
  readonly token: string;
  readonly record: TokenRecord;
}

async function issueToken(ctx: AppContext, user: UserRecord, name: string, days: number): Promise<IssuedToken> {
  const now = ctx.clock.now();
  const token = newApiToken();
  const record: TokenRecord = {
    id: ctx.random.uuid(),
    userId: user.id,
    name,
    createdAt: now.toISOString(),
    expiresAt: addDays(now, days),
    lastUsedAt: null,
  };
  await ctx.store.tokens.create({ ...record, tokenHash: hashApiToken(token) });
  return { token, record };
}

/** Where a log-in comes from, and where its refusal is counted (failed-logins.ts); without a recorder each failure is one entry. */
export interface LoginSource {
  /** The client address, as the transport sees it. */
  readonly address?: string | null;
  readonly failures?: FailedLoginRecorder;
}

/** Checks the password and issues a log-in token. Failures are audited and do not tell which part was wrong. */
export async function login(ctx: AppContext, username: string, password: string, source: LoginSource = {}): Promise<IssuedToken & { readonly user: UserRecord }> {
  const found = await ctx.store.users.findByUsername(username);
  const valid = await verifyPassword(password, found?.passwordHash ?? UNUSABLE_PASSWORD_HASH);
  const at = ctx.clock.now().toISOString();
  if (!found || !valid) {
    if (source.failures) {
      await source.failures.record(FailedLoginKind.invalidCredentials, username, source.address ?? null);
    } else {
      await ctx.store.audit.append({
        at,
        actor: username.slice(0, 64),
        action: 'auth.login',
        target: null,
        result: AuditResult.refused,
        code: ErrorCode.invalid_credentials,
        details: {},
      });
    }
    throw new CertfleetError(ErrorCode.invalid_credentials, 'The user name or password is wrong.');
  }
  const user: UserRecord = { id: found.id, username: found.username, role: found.role, createdAt: found.createdAt };
  const issued = await issueToken(ctx, user, 'login', LOGIN_TOKEN_DAYS);
  await ctx.store.audit.append({ at, actor: user.username, action: 'auth.login', target: null, result: AuditResult.ok, code: null, details: { tokenId: issued.record.id } });
  return { ...issued, user };
}

/** Turns a bearer token into the actor behind it, or refuses with `unauthenticated`. */
export async function authenticate(ctx: AppContext, token: string | undefined): Promise<Actor> {
  if (!token) {
    throw new CertfleetError(ErrorCode.unauthenticated, 'Log in first (`certfleet login`), or send an API token as "Authorization: Bearer …".');
  }
  const now = ctx.clock.now();
  const found = await ctx.store.tokens.findValid(hashApiToken(token), now.toISOString());
  if (!found) {
    throw new CertfleetError(ErrorCode.unauthenticated, 'The token is unknown, revoked or expired. Log in again.');
  }
  const last = found.token.lastUsedAt ? Date.parse(found.token.lastUsedAt) : 0;
  if (now.getTime() - last > TOUCH_INTERVAL_MS) await ctx.store.tokens.touch(found.token.id, now.toISOString());
  return { userId: found.user.id, username: found.user.username, role: found.user.role, tokenId: found.token.id };
}

export async function logout(ctx: AppContext, actor: Actor): Promise<void> {
  if (actor.tokenId) await ctx.store.tokens.remove(actor.tokenId);
}

export interface CreateUserRequest {
  readonly username: string;
  readonly role: string;
  readonly password: string;
}

async function insertUser(ctx: AppContext, req: CreateUserRequest, role: Role): Promise<UserRecord> {
  const user: UserRecord = { id: ctx.random.uuid(), username: req.username, role, createdAt: ctx.clock.now().toISOString() };
  await ctx.store.users.create({ ...user, passwordHash: await hashPassword(req.password) });
  return user;
}

export async function createUser(ctx: AppContext, actor: Actor, req: CreateUserRequest): Promise<UserRecord> {
  return auditedChange(ctx, actor, 'user.create', req.username, async (audit) => {
    authorize(actor, Permission.manageAccounts);
    if (!USERNAME_PATTERN.test(req.username)) {
      throw new CertfleetError(
        ErrorCode.invalid_username,
        'A user name is 1 to 64 lower-case letters, digits, dots, underscores or hyphens, starting with a letter or digit.',
        { field: 'username', pattern: USERNAME_PATTERN.source },
      );
    }
    if (RESERVED_USERNAMES.has(req.username)) {
      throw new CertfleetError(
        ErrorCode.invalid_username,
        `"${req.username}" is how the audit log names actions of no account; choose another user name.`,
        { field: 'username', reserved: [...RESERVED_USERNAMES] },
      );
    }
    if (!isRole(req.role)) {
      throw new CertfleetError(ErrorCode.invalid_role, `"${req.role}" is not a role. Choose one of ${ROLES.join(', ')}.`, { roles: ROLES });
    }
    checkPassword(req.password);
    if (await ctx.store.users.findByUsername(req.username)) {
      throw new CertfleetError(ErrorCode.user_exists, `The user "${req.username}" exists already.`, { username: req.username });
    }
    const role = req.role;
    const passwordHash = await hashPassword(req.password);
    return ctx.store.transaction(async (tx) => {
      const user: UserRecord = { id: ctx.random.uuid(), username: req.username, role, createdAt: ctx.clock.now().toISOString() };
      await tx.users.create({ ...user, passwordHash });
      await audit.ok(tx, { role });
      return user;
    });
  });
}

export async function listUsers(ctx: AppContext, actor: Actor): Promise<UserRecord[]> {
  authorize(actor, Permission.manageAccounts);
  return ctx.store.users.list();
}

export async function deleteUser(ctx: AppContext, actor: Actor, username: string): Promise<void> {
  await auditedChange(ctx, actor, 'user.delete', username, async (audit) => {
    authorize(actor, Permission.manageAccounts);
    if (username === actor.username) {
      throw new CertfleetError(ErrorCode.cannot_delete_self, 'You cannot delete your own account. Ask another administrator.');
    }
    await ctx.store.transaction(async (tx) => {
      const user = await tx.users.findByUsername(username);
      if (!user) throw new CertfleetError(ErrorCode.user_not_found, `There is no user "${username}". List them with \`certfleet user list\`.`, { username });
      if (user.role === Role.admin && (await tx.users.countByRole(Role.admin)) <= 1) {
        throw new CertfleetError(ErrorCode.last_admin, `"${username}" is the last administrator and cannot be deleted.`, { username });
      }
      await tx.users.remove(user.id);
      await audit.ok(tx, { role: user.role });
    });
  });
}

export async function createApiToken(ctx: AppContext, actor: Actor, name: string, days: number): Promise<IssuedToken> {
  return auditedChange(ctx, actor, 'token.create', name, async (audit) => {
    authorize(actor, Permission.read);
    if (!Number.isInteger(days) || days < 1 || days > MAX_API_TOKEN_DAYS) {
      throw new CertfleetError(ErrorCode.invalid_request, `A token lives 1 to ${MAX_API_TOKEN_DAYS} days.`, { field: 'days' });
    }
    const user: UserRecord = { id: actor.userId, username: actor.username, role: actor.role, createdAt: '' };
    const issued = await issueToken(ctx, user, name.slice(0, 64) || 'api', days);
    await ctx.store.transaction((tx) => audit.ok(tx, { tokenId: issued.record.id, expiresAt: issued.record.expiresAt }));
    return issued;
  });
}

export async function listApiTokens(ctx: AppContext, actor: Actor): Promise<TokenRecord[]> {
  authorize(actor, Permission.read);
  return ctx.store.tokens.listForUser(actor.userId);
}

export async function revokeApiToken(ctx: AppContext, actor: Actor, tokenId: string): Promise<void> {
  await auditedChange(ctx, actor, 'token.revoke', tokenId, async (audit) => {
    authorize(actor, Permission.read);
    const mine = await ctx.store.tokens.listForUser(actor.userId);
    if (!mine.some((t) => t.id === tokenId)) {
      throw new CertfleetError(ErrorCode.token_not_found, 'You have no token with this id. List yours with GET /api/v1/tokens.', { tokenId });
    }
    await ctx.store.transaction(async (tx) => {
      await tx.tokens.remove(tokenId);
      await audit.ok(tx);
    });
  });
}

/**
 * First start: when there is no account at all, creates `admin` with the given password, or with a
 * generated one that the caller prints once. Returns the generated password, if any.
 */
export async function ensureAdminAccount(
  ctx: AppContext,
  givenPassword: string | undefined,
): Promise<{ readonly created: boolean; readonly generatedPassword: string | null }> {
  if ((await ctx.store.users.count()) > 0) return { created: false, generatedPassword: null };
  const password = givenPassword ?? generatePassword();
  checkPassword(password);
  const user = await insertUser(ctx, { username: 'admin', role: Role.admin, password }, Role.admin);
  await ctx.store.audit.append({ at: user.createdAt, actor: 'system', action: 'user.create', target: 'admin', result: AuditResult.ok, code: null, details: { role: Role.admin, firstStart: true } });
  return { created: true, generatedPassword: givenPassword ? null : password };
}
