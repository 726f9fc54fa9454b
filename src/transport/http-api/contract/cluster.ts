/** The cluster (SPEC H1, H3): its nodes, its leader, and the network token. */
import { Type, type Static } from 'typebox';
import { IsoDate, Nullable } from './common.js';

export const ClusterNodeSchema = Type.Object({
  id: Type.String({ description: 'Kept in the node\'s data directory (node-id).' }),
  name: Type.String({ description: 'The host name.' }),
  apiAddress: Type.String(),
  deviceAddress: Type.String(),
  version: Type.String(),
  startedAt: IsoDate(),
  lastHeartbeatAt: IsoDate(),
  alive: Type.Boolean({ description: 'Its last heartbeat is younger than the lease time.' }),
  isLeader: Type.Boolean({ description: 'It holds the rotation lease: the reconciler runs there.' }),
  servedRevision: Type.Integer({ description: 'The keystore revision its device channel serves.' }),
});
export type ClusterNode = Static<typeof ClusterNodeSchema>;

export const ClusterStatusSchema = Type.Object(
  {
    clusterId: Type.String(),
    keystoreRevision: Type.Integer({ description: 'The revision in the database; every node serves it within a second.' }),
    leader: Nullable(Type.String(), 'The id of the node that holds the rotation lease; null while it changes hands.'),
    nodes: Type.Array(ClusterNodeSchema),
    networkToken: Type.Object({
      serial: Type.Integer({ description: 'Grows with every certificate change.' }),
      createdAt: IsoDate(),
      location: Type.String({ description: 'Where the nodes write the token file (as this node sees it).' }),
    }),
  },
  { description: 'A single node on SQLite is a cluster of one: always the leader.' },
);
export type ClusterStatus = Static<typeof ClusterStatusSchema>;

export const NetworkTokenSchema = Type.Object(
  {
    format: Type.String(),
    clusterId: Type.String(),
    serial: Type.Integer(),
    keystoreDigest: Type.String({ description: 'SHA-256 of the keystore: fingerprints, order and active flags.' }),
    createdAt: IsoDate(),
    signature: Type.String({ description: 'Ed25519, base64url, by the cluster\'s key.' }),
  },
  { description: 'The current network token (H3), as the nodes write it to their token location.' },
);
export type NetworkTokenAnswer = Static<typeof NetworkTokenSchema>;

export const TokenLocationBodySchema = Type.Object(
  {
    location: Nullable(Type.String({ minLength: 1, maxLength: 1024 }), 'An absolute directory every node writes the token file to; null: each node\'s data directory.'),
  },
  { additionalProperties: false },
);
export type TokenLocationBody = Static<typeof TokenLocationBodySchema>;
