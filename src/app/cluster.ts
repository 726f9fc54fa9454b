/**
 * The cluster (SPEC H1, H3; docs/design/cluster.md): the cluster row with its signing key and
 * current network token, the node registry, joining, and the status view.
 *
 * Every keystore change calls `issueNetworkToken` in its own transaction, after the change and
 * under the keystore lock: the token's digest describes exactly the keystore that commits with
 * it, and two changes never get one serial. A SQLite database is a cluster of one node.
 */
import {
  decideJoin,
  NETWORK_TOKEN_FORMAT,
  parseNetworkToken,
  type KeystoreDigestEntry,
  type NetworkToken,
} from '../domain/network-token.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { Permission } from '../domain/roles.js';
import { generateClusterSigningKey, keystoreDigest, signNetworkToken, verifyNetworkToken } from '../crypto/network-token-signer.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import type { Repos } from './store.js';

export interface ClusterRecord {
  readonly id: string;
  readonly createdAt: string;
  /** SubjectPublicKeyInfo DER of the Ed25519 key that signs network tokens. */
  readonly signingPublicKey: Buffer;
  /** Its PKCS#8 private half, sealed under the master key and bound to the cluster id. */
  readonly signingPrivateKeySealed: Buffer;
  /** The directory the nodes write the token file to; null: each node's data directory. */
  readonly tokenLocation: string | null;
  readonly token: NetworkToken;
}

export interface NodeRecord {
  readonly id: string;
  readonly name: string;
  readonly apiAddress: string;
  readonly deviceAddress: string;
  readonly version: string;
  readonly startedAt: string;
  readonly lastHeartbeatAt: string;
  /** The keystore revision this node's device channel serves. */
  readonly servedRevision: number;
  readonly tokenWrittenSerial: number | null;
  readonly tokenWriteError: string | null;
}

/** What the cluster use cases need from the store. */
export interface ClusterRepo {
  /** The cluster row, or null before the first node made it. */
  get(): Promise<ClusterRecord | null>;
  /** Inserts the cluster row unless one exists (two first nodes racing: one wins); false when one existed. */
  create(cluster: ClusterRecord): Promise<boolean>;
  setToken(token: NetworkToken): Promise<void>;
  setTokenLocation(location: string | null): Promise<void>;
  nodes(): Promise<NodeRecord[]>;
  findNode(id: string): Promise<NodeRecord | null>;
  /** Inserts or replaces a node's entry (at its start). */
  putNode(node: NodeRecord): Promise<void>;
  /** Refreshes a node's heartbeat and served revision; false when its entry is gone. */
  heartbeat(id: string, at: string, servedRevision: number): Promise<boolean>;
  tokenWritten(nodeId: string, serial: number, error: string | null): Promise<void>;
}

/** The keystore as the token digests it: order, fingerprint and active flag, nothing more. */
export interface KeystoreDigestRepo {
  digestEntries(): Promise<KeystoreDigestEntry[]>;
}

const DEFAULT_TOKEN_FILE = 'certfleet-network-token';

/** The file the token is written to, given the cluster's location setting and this node's data directory. */
export function tokenFilePath(location: string | null, dataDir: string): string {
  return `${(location ?? dataDir).replace(/\/+$/, '')}/${DEFAULT_TOKEN_FILE}`;
}

function signingKey(ctx: AppContext, cluster: ClusterRecord): Buffer {
  return ctx.sealer.open(cluster.signingPrivateKeySealed, `cluster:${cluster.id}`);
}

/**
 * Makes the cluster row on the first start against an empty database (a no-op afterwards): a new
 * cluster id, its signing key, and the first network token, which describes the keystore as it is.
 */
export async function ensureCluster(ctx: AppContext): Promise<ClusterRecord> {
  const existing = await ctx.store.cluster.get();
  if (existing) return existing;
  const id = ctx.random.uuid();
  const key = generateClusterSigningKey();
  const createdAt = ctx.clock.now().toISOString();
  await ctx.store.transaction(async (tx) => {
    await tx.keystore.lock();
    const body = {
      format: NETWORK_TOKEN_FORMAT,
      clusterId: id,
      serial: 1,
      keystoreDigest: keystoreDigest(await tx.keystore.digestEntries()),
      createdAt,
    } as const;
    await tx.cluster.create({
      id,
      createdAt,
      signingPublicKey: key.publicKeyDer,
      signingPrivateKeySealed: ctx.sealer.seal(key.privateKeyDer, `cluster:${id}`),
      tokenLocation: null,
      token: signNetworkToken(body, key.privateKeyDer),
    });
  });
  const made = await ctx.store.cluster.get();
  if (!made) throw new Error('the cluster row is missing right after it was made');
  return made;
}

/**
 * H3: a new network token after a keystore change, in the change's transaction (which holds the
 * keystore lock). Nothing happens before the cluster exists, or when the digest did not change.
 */
export async function issueNetworkToken(ctx: AppContext, tx: Repos): Promise<NetworkToken | null> {
  const cluster = await tx.cluster.get();
  if (!cluster) return null;
  const digest = keystoreDigest(await tx.keystore.digestEntries());
  if (digest === cluster.token.keystoreDigest) return null;
  const token = signNetworkToken(
    {
      format: NETWORK_TOKEN_FORMAT,
      clusterId: cluster.id,
      serial: cluster.token.serial + 1,
      keystoreDigest: digest,
      createdAt: ctx.clock.now().toISOString(),
    },
    signingKey(ctx, cluster),
  );
  await tx.cluster.setToken(token);
  return token;
}

export interface NodeIdentity {
  readonly id: string;
  readonly name: string;
  readonly apiAddress: string;
  readonly deviceAddress: string;
  readonly version: string;
  readonly servedRevision: number;
}

export interface AdmissionRequest {
  readonly nodeId: string;
  /** The text of `--join-token FILE`, if given. */
  readonly joinToken: string | null;
  /** This node's data directory, for the message that says where the current token is. */
  readonly dataDir: string;
}

export type Admission = 'known' | 'first' | 'token';

/**
 * May this node serve (H3)? A node the cluster knows (its id is in the registry) or the first
 * node of a cluster needs nothing; any other must present the current network token. Writes
 * nothing but the cluster row of a new cluster: a refused node leaves no trace.
 */
export async function admitNode(ctx: AppContext, req: AdmissionRequest): Promise<Admission> {
  const cluster = await ensureCluster(ctx);
  if (await ctx.store.cluster.findNode(req.nodeId)) return 'known';
  const others = await ctx.store.cluster.nodes();
  if (others.length === 0) return 'first';
  const where =
    cluster.tokenLocation === null ? `the data directory of every running node (${DEFAULT_TOKEN_FILE})` : tokenFilePath(cluster.tokenLocation, req.dataDir);
  if (req.joinToken === null) {
    throw new CertfleetError(
      ErrorCode.join_token_required,
      `This node is new to cluster ${cluster.id}, which has ${others.length} node(s): start it with --join-token FILE, ` +
        `the current network token (serial ${cluster.token.serial}). It is in ${where}; export it with "certfleet cluster token --out FILE".`,
      { clusterId: cluster.id, currentSerial: cluster.token.serial },
    );
  }
  const parsed = parseNetworkToken(req.joinToken);
  const valid = parsed.kind === 'token' && verifyNetworkToken(parsed.token, cluster.signingPublicKey);
  const decision = decideJoin(parsed, valid, { clusterId: cluster.id, serial: cluster.token.serial, location: where });
  if (decision.kind === 'refused') {
    throw new CertfleetError(ErrorCode.join_token_refused, decision.message, {
      reason: decision.reason,
      presentedSerial: parsed.kind === 'token' ? parsed.token.serial : null,
      currentSerial: cluster.token.serial,
    });
  }
  return 'token';
}

/** Puts this node in the registry (at its start, once it listens): alive from now on. */
export async function registerNode(ctx: AppContext, node: NodeIdentity): Promise<void> {
  const known = await ctx.store.cluster.findNode(node.id);
  const now = ctx.clock.now().toISOString();
  await ctx.store.cluster.putNode({
    ...node,
    startedAt: now,
    lastHeartbeatAt: now,
    tokenWrittenSerial: known?.tokenWrittenSerial ?? null,
    tokenWriteError: null,
  });
}

/** A node as the status shows it: its registry entry, and what the status decides of it. */
export interface ClusterNodeView extends NodeRecord {
  /** Its last heartbeat is younger than the lease time. */
  readonly alive: boolean;
  /** It holds the rotation lease. */
  readonly isLeader: boolean;
}

export interface ClusterStatus {
  readonly clusterId: string;
  readonly keystoreRevision: number;
  readonly leader: string | null;
  readonly nodes: readonly ClusterNodeView[];
  readonly networkToken: { readonly serial: number; readonly createdAt: string; readonly location: string };
}

/** A lease as stored: its holder (null: free), the epoch it was taken under, and its expiry. */
export interface LeaseState {
  readonly holder: string | null;
  readonly epoch: number;
  readonly expiresAt: string | null;
}

/** A lease this node holds: its name, this node as holder, and the epoch it was taken under. */
export interface HeldLease {
  readonly name: string;
  readonly holder: string;
  readonly epoch: number;
}

/** Leases (H4; storage/lease-store.ts). Times are ISO text from the caller's clock. */
export interface LeaseRepo {
  /** Takes the lease when free or expired, under a new epoch; null while another holder's runs. */
  acquire(name: string, holder: string, now: string, expiresAt: string): Promise<number | null>;
  /** Extends a lease still held under its epoch; false when it was lost. */
  renew(lease: HeldLease, now: string, expiresAt: string): Promise<boolean>;
  release(lease: HeldLease): Promise<void>;
  /** The fence for a write under the lease (in the writing transaction). */
  holds(lease: HeldLease, now: string): Promise<boolean>;
  state(name: string): Promise<LeaseState | null>;
}

export const ROTATION_LEASE = 'rotation';

/** How long the rotation lease lasts without renewal (`--lease-ttl`): the failover time (H4). */
export const DEFAULT_LEASE_TTL_MS = 15_000;

/**
 * H1: the cluster as `cluster status` shows it. A node is alive while its last heartbeat is
 * younger than the lease time; the leader is the holder of an unexpired rotation lease.
 */
function requireCluster(cluster: ClusterRecord | null): ClusterRecord {
  if (!cluster) throw new CertfleetError(ErrorCode.not_found, 'This database holds no cluster yet: start a node on it first.');
  return cluster;
}

export async function clusterStatus(ctx: AppContext, actor: Actor, opts: { readonly leaseTtlMs: number; readonly dataDir: string }): Promise<ClusterStatus> {
  authorize(actor, Permission.read);
  const [found, nodes, lease, revision] = await Promise.all([
    ctx.store.cluster.get(),
    ctx.store.cluster.nodes(),
    ctx.store.leases.state(ROTATION_LEASE),
    ctx.store.keystore.revision(),
  ]);
  const cluster = requireCluster(found);
  const now = ctx.clock.now();
  const leader = lease?.holder && lease.expiresAt !== null && lease.expiresAt > now.toISOString() ? lease.holder : null;
  return {
    clusterId: cluster.id,
    keystoreRevision: revision,
    leader,
    nodes: nodes.map((n) => ({
      ...n,
      alive: now.getTime() - new Date(n.lastHeartbeatAt).getTime() < opts.leaseTtlMs,
      isLeader: n.id === leader,
    })),
    networkToken: {
      serial: cluster.token.serial,
      createdAt: cluster.token.createdAt,
      location: tokenFilePath(cluster.tokenLocation, opts.dataDir),
    },
  };
}

/** `certfleet cluster token --out FILE`: the current token, as the file the nodes write. */
export async function currentNetworkToken(ctx: AppContext, actor: Actor): Promise<NetworkToken> {
  // It admits a new node (given the master key and the database), so it is for operators.
  authorize(actor, Permission.manageCertificates);
  return requireCluster(await ctx.store.cluster.get()).token;
}

const MAX_LOCATION = 1024;

/**
 * `certfleet cluster token-location set DIR`: where every node writes the token file from now on
 * (null: back to each node's data directory). Only an absolute path is taken; whether a node can
 * write there is its own business, reported in its status, never a reason to refuse a change.
 */
export async function setTokenLocation(ctx: AppContext, actor: Actor, location: string | null): Promise<void> {
  await auditedChange(ctx, actor, 'cluster.token-location', location, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    if (location !== null && (!location.startsWith('/') || location.length > MAX_LOCATION || location.includes('\0'))) {
      throw new CertfleetError(ErrorCode.invalid_request, `The token location must be an absolute directory path (at most ${MAX_LOCATION} characters).`, {
        location,
      });
    }
    await ctx.store.transaction(async (tx) => {
      await tx.cluster.setTokenLocation(location);
      await audit.ok(tx, { location });
    });
  });
}
