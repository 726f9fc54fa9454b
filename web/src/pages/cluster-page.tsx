import { ErrorMessage } from '../components/error-message';
import { usePolledGet } from '../components/use-poll';
import { formatDateTime } from '../format';
import type { ClusterStatus } from '../types';

/** Heartbeats come every third of the lease time: a poll this often shows a dead node within seconds. */
const POLL_MS = 3_000;

/**
 * The nodes of the cluster (H1), live: which node leads the rotation, which are alive, the keystore
 * revision each serves, and the current network token (H3). A single node on SQLite is a cluster
 * of one.
 */
export function ClusterPage() {
  const { data: s, error } = usePolledGet<ClusterStatus>('/cluster', POLL_MS);
  return (
    <>
      <h1 tabIndex={-1}>Cluster</h1>
      <p class="intro">
        Every node on one PostgreSQL database serves the same keystore: a certificate change made on any node reaches the device channel of every
        node within a second, without a restart. One node, the leader, runs the rotation; when it stops, another takes over within the lease time.
      </p>
      <ErrorMessage error={error} />
      {s === null && !error ? <p role="status">Loading the cluster…</p> : null}
      {s ? (
        <>
          <dl class="stats" aria-live="polite">
            <div>
              <dt>Nodes alive</dt>
              <dd data-stat="alive">
                {s.nodes.filter((n) => n.alive).length} of {s.nodes.length}
              </dd>
            </div>
            <div>
              <dt>Keystore revision</dt>
              <dd data-stat="revision">{s.keystoreRevision}</dd>
            </div>
            <div>
              <dt>Network token</dt>
              <dd data-stat="token">serial {s.networkToken.serial}</dd>
            </div>
          </dl>
          <table class="grid" aria-label="Nodes">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Host</th>
                <th scope="col">State</th>
                <th scope="col">API</th>
                <th scope="col">Devices</th>
                <th scope="col">Serves revision</th>
                <th scope="col">Version</th>
                <th scope="col">Started</th>
                <th scope="col">Last heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {s.nodes.map((n) => (
                <tr key={n.id} data-node={n.id} class={n.alive ? '' : 'stale'}>
                  <td>
                    <code>{n.id.slice(0, 8)}</code> {n.isLeader ? <span class="badge default">leader</span> : null}
                  </td>
                  <td>{n.name}</td>
                  <td>{n.alive ? <span class="badge active">alive</span> : <span class="badge inactive">stale</span>}</td>
                  <td>{n.apiAddress}</td>
                  <td>{n.deviceAddress}</td>
                  <td>
                    {n.servedRevision}
                    {n.alive && n.servedRevision !== s.keystoreRevision ? <span class="hint"> (catching up)</span> : null}
                  </td>
                  <td>{n.version}</td>
                  <td>{formatDateTime(n.startedAt)}</td>
                  <td>{formatDateTime(n.lastHeartbeatAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {s.leader === null ? <p class="message error" role="alert">No node holds the rotation lease right now: it is changing hands.</p> : null}
          <section aria-labelledby="token-title" class="panel">
            <h2 id="token-title">Network token</h2>
            <dl class="fields">
              <div>
                <dt>Serial</dt>
                <dd>{s.networkToken.serial}</dd>
              </div>
              <div>
                <dt>Made</dt>
                <dd>{formatDateTime(s.networkToken.createdAt)}</dd>
              </div>
              <div>
                <dt>Written to</dt>
                <dd>
                  <code>{s.networkToken.location}</code>
                </dd>
              </div>
            </dl>
            <p class="hint">
              Every certificate change makes a new token. A node that joins the cluster for the first time needs the current one:{' '}
              <code>certfleet cluster token --out FILE</code>, then <code>certfleet serve --join-token FILE</code>. The load balancer in front of the
              device ports never needs a certificate or a token.
            </p>
          </section>
          <p class="hint">Cluster id {s.clusterId}</p>
        </>
      ) : null}
    </>
  );
}
