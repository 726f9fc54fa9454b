/**
 * `certfleet cluster status|token|token-location` (SPEC H1, H3): the nodes, the rotation leader,
 * and the network token a new node needs to join.
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { formatNetworkToken, NETWORK_TOKEN_FORMAT } from '../../domain/network-token.js';
import { configuredClient as client } from './api-client.js';
import { UsageError } from './cli-errors.js';
import { printJson, say, table, tell } from './cli-io.js';
import type { ClusterStatus, NetworkTokenAnswer, TokenLocationBody } from '../http-api/contract/index.js';

function describeStatus(s: ClusterStatus): string {
  const rows = s.nodes.map((n) => [
    n.id,
    n.name,
    n.isLeader ? 'leader' : '',
    n.alive ? 'alive' : 'STALE',
    n.apiAddress,
    n.deviceAddress,
    n.servedRevision === s.keystoreRevision ? String(n.servedRevision) : `${n.servedRevision} (behind)`,
    n.lastHeartbeatAt,
  ]);
  return (
    `Cluster ${s.clusterId}: keystore revision ${s.keystoreRevision}, leader ${s.leader ?? 'none (the lease is changing hands)'}.\n` +
    table(['NODE', 'HOST', 'ROLE', 'STATE', 'API', 'DEVICES', 'REVISION', 'LAST HEARTBEAT'], rows) +
    `Network token: serial ${s.networkToken.serial} (${s.networkToken.createdAt}), written to ${s.networkToken.location}\n`
  );
}

export function addClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('the nodes of a cluster on one PostgreSQL database, and its network token');

  cluster.command('status').description('the nodes, which one leads the rotation, and the current network token')
    .option('--json', 'print JSON ({clusterId, keystoreRevision, leader, nodes, networkToken})')
    .action(async (opts: { json?: boolean }) => {
      const s = await client().json<ClusterStatus>('GET', '/api/v1/cluster');
      if (opts.json) printJson(s);
      else say(describeStatus(s));
    });

  cluster.command('token').description('export the current network token (what `serve --join-token FILE` needs on a new node)')
    .requiredOption('--out <file>', 'where to write it (mode 0600)')
    .action(async (opts: { out: string }) => {
      const t = await client().json<NetworkTokenAnswer>('GET', '/api/v1/cluster/token');
      if (t.format !== NETWORK_TOKEN_FORMAT) throw new Error(`the server answered a token of format ${t.format}`);
      writeFileSync(opts.out, formatNetworkToken({ ...t, format: NETWORK_TOKEN_FORMAT }), { mode: 0o600 });
      tell(`Wrote the network token (serial ${t.serial}) to ${opts.out}.\n`);
    });

  const location = cluster.command('token-location').description('where every node writes the network token file');
  location.command('set').description('every node writes the token file to DIR from now on (an absolute path, e.g. a shared mount)')
    .argument('<dir>', 'absolute directory')
    .action(async (dir: string) => {
      if (!dir.startsWith('/')) throw new UsageError('the token location must be an absolute directory path');
      await client().call('PUT', '/api/v1/cluster/token-location', { location: dir } satisfies TokenLocationBody);
      tell(`Every node writes the network token to ${dir}/certfleet-network-token from now on.\n`);
    });
  location.command('reset').description('every node writes the token file to its own data directory again')
    .action(async () => {
      await client().call('PUT', '/api/v1/cluster/token-location', { location: null } satisfies TokenLocationBody);
      tell('Every node writes the network token to its data directory from now on.\n');
    });
}
