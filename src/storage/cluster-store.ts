/** The cluster row and the node registry (H1, H3; migration 0004). */
import type { Kysely, Selectable } from 'kysely';
import type { ClusterRecord, ClusterRepo, NodeRecord } from '../app/cluster.js';
import { NETWORK_TOKEN_FORMAT, type NetworkToken } from '../domain/network-token.js';
import { toInt } from './columns.js';
import type { ClusterNodesTable, ClusterTable, Database } from './schema.js';

function clusterRecord(row: Selectable<ClusterTable>): ClusterRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    signingPublicKey: row.signing_public_key,
    signingPrivateKeySealed: row.signing_private_key_sealed,
    tokenLocation: row.token_location,
    token: {
      format: NETWORK_TOKEN_FORMAT,
      clusterId: row.id,
      serial: toInt(row.token_serial),
      keystoreDigest: row.token_digest,
      createdAt: row.token_created_at,
      signature: row.token_signature,
    },
  };
}

function nodeRecord(row: Selectable<ClusterNodesTable>): NodeRecord {
  return {
    id: row.id,
    name: row.name,
    apiAddress: row.api_address,
    deviceAddress: row.device_address,
    version: row.version,
    startedAt: row.started_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    servedRevision: toInt(row.served_revision),
    tokenWrittenSerial: row.token_written_serial === null ? null : toInt(row.token_written_serial),
    tokenWriteError: row.token_write_error,
  };
}

export class ClusterStore implements ClusterRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async get(): Promise<ClusterRecord | null> {
    const row = await this.db.selectFrom('cluster').selectAll().where('singleton', '=', 1).executeTakeFirst();
    return row ? clusterRecord(row) : null;
  }

  async create(c: ClusterRecord): Promise<boolean> {
    const r = await this.db
      .insertInto('cluster')
      .values({
        singleton: 1,
        id: c.id,
        created_at: c.createdAt,
        signing_public_key: c.signingPublicKey,
        signing_private_key_sealed: c.signingPrivateKeySealed,
        token_location: c.tokenLocation,
        token_serial: c.token.serial,
        token_digest: c.token.keystoreDigest,
        token_created_at: c.token.createdAt,
        token_signature: c.token.signature,
      })
      .onConflict((oc) => oc.column('singleton').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async setToken(t: NetworkToken): Promise<void> {
    await this.db
      .updateTable('cluster')
      .set({ token_serial: t.serial, token_digest: t.keystoreDigest, token_created_at: t.createdAt, token_signature: t.signature })
      .where('singleton', '=', 1)
      .where('id', '=', t.clusterId)
      .execute();
  }

  async setTokenLocation(location: string | null): Promise<void> {
    await this.db.updateTable('cluster').set({ token_location: location }).where('singleton', '=', 1).execute();
  }

  async nodes(): Promise<NodeRecord[]> {
    const rows = await this.db.selectFrom('cluster_nodes').selectAll().orderBy('started_at').orderBy('id').execute();
    return rows.map(nodeRecord);
  }

  async findNode(id: string): Promise<NodeRecord | null> {
    const row = await this.db.selectFrom('cluster_nodes').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? nodeRecord(row) : null;
  }

  async putNode(n: NodeRecord): Promise<void> {
    const values = {
      id: n.id,
      name: n.name,
      api_address: n.apiAddress,
      device_address: n.deviceAddress,
      version: n.version,
      started_at: n.startedAt,
      last_heartbeat_at: n.lastHeartbeatAt,
      served_revision: n.servedRevision,
      token_written_serial: n.tokenWrittenSerial,
      token_write_error: n.tokenWriteError,
    };
    const { id: _id, ...update } = values;
    await this.db
      .insertInto('cluster_nodes')
      .values(values)
      .onConflict((oc) => oc.column('id').doUpdateSet(update))
      .execute();
  }

  async heartbeat(id: string, at: string, servedRevision: number): Promise<boolean> {
    const r = await this.db
      .updateTable('cluster_nodes')
      .set({ last_heartbeat_at: at, served_revision: servedRevision })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async tokenWritten(nodeId: string, serial: number, error: string | null): Promise<void> {
    await this.db
      .updateTable('cluster_nodes')
      .set({ token_written_serial: error === null ? serial : undefined, token_write_error: error })
      .where('id', '=', nodeId)
      .execute();
  }
}
