/**
 * The monitoring files in docs/ against the metrics the server really exports: Debian's promtool
 * accepts the alert rules and passes their unit tests, and every metric the rules and the Grafana
 * dashboard name is in a real scrape (so renaming a metric breaks this test, not an operator's
 * dashboard).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/app/store.js';
import { ServerMetrics } from '../../src/transport/metrics/metrics.js';
import { testAppContext } from '../support/app-context.js';
import { parsePrometheusText } from '../support/prometheus.js';

const DOCS = new URL('../../../docs/', import.meta.url).pathname;
const RULES = join(DOCS, 'prometheus-alerts.yml');
const RULE_TESTS = join(DOCS, 'prometheus-alerts.test.yml');
const DASHBOARD = join(DOCS, 'grafana-dashboard.json');

let store: Store;
let exported: Map<string, { readonly type: string }>;

before(async () => {
  store = await openStore({ url: join(mkdtempSync(join(tmpdir(), 'certfleet-docs-')), 'certfleet.db') });
  const metrics = new ServerMetrics({ ctx: testAppContext(store), isLeader: () => true });
  exported = parsePrometheusText((await metrics.scrape()).body);
});
after(() => store.close());

function promtool(...args: string[]): string {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, 'promtool runs (Debian package prometheus; .ci/run installs it)');
  assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The exported metric names an expression refers to (a histogram's _bucket/_sum/_count mapped to it). */
function metricNames(expr: string): string[] {
  const names = expr.match(/\b(certfleet|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
  return [...new Set(names)].map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return base !== n && exported.get(base)?.type === 'histogram' ? base : n;
  });
}

it('promtool accepts the alert rules and their unit tests pass', () => {
  assert.match(promtool('check', 'rules', RULES), /SUCCESS: \d+ rules found/);
  assert.match(promtool('test', 'rules', RULE_TESTS), /SUCCESS/);
});

it('the alert rules name only metrics the server exports, and cover expiry, rotation and leadership', () => {
  const text = readFileSync(RULES, 'utf8');
  const exprs = [...text.matchAll(/expr: (\|\n((?: {10}.*\n)+)|.*)/g)].map((m) => m[2] ?? m[1] ?? '');
  assert.ok(exprs.length >= 5, `expressions found: ${exprs.length}`);
  for (const name of exprs.flatMap(metricNames)) assert.ok(exported.has(name), `${name} is exported`);
  const alerts = [...text.matchAll(/- alert: (\S+)/g)].map((m) => m[1]);
  for (const a of ['CertfleetCertificateExpiringInUse', 'CertfleetCertificateExpiredInUse', 'CertfleetRotationStuck', 'CertfleetRotationNotProgressing', 'CertfleetNoLeader']) {
    assert.ok(alerts.includes(a), `alert ${a}`);
  }
});

it('the Grafana dashboard is a dashboard whose every panel queries metrics the server exports', () => {
  interface Panel {
    readonly type: string;
    readonly title: string;
    readonly targets?: readonly { readonly expr: string }[];
  }
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string; uid: string; panels: Panel[] }; // our own file, checked below
  assert.equal(dashboard.title, 'certfleet');
  const queried = dashboard.panels.filter((p) => p.type !== 'row');
  assert.ok(queried.length >= 10, `panels: ${queried.length}`);
  const used = new Set<string>();
  for (const p of queried) {
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
    for (const t of p.targets ?? []) for (const name of metricNames(t.expr)) used.add(name);
  }
  for (const name of used) assert.ok(exported.has(name), `${name} (dashboard) is exported`);
  const ours = [...exported.keys()].filter((n) => n.startsWith('certfleet_'));
  assert.deepEqual(ours.filter((n) => !used.has(n)), [], 'every certfleet metric is on the dashboard');
});

it('the test parser is strict: malformed exposition text fails', () => {
  const bad = [
    'x 1\n', // no TYPE
    '# TYPE x gauge\nx{a="1" 1\n', // unclosed labels
    '# TYPE x gauge\nx{a=1} 1\n', // unquoted value
    '# TYPE x gauge\nx one\n', // not a number
    '# TYPE x gauge\nx 1\nx 2\n', // one series twice
    '# TYPE x wobble\n', // unknown type
  ];
  for (const text of bad) assert.throws(() => parsePrometheusText(text), assert.AssertionError, JSON.stringify(text));
  const good = parsePrometheusText('# HELP x h\n# TYPE x gauge\nx{a="q\\"z\\n"} -Inf\nx{a="b"} 2 1700000000\n');
  assert.deepEqual(good.get('x')?.samples.map((s) => [s.labels['a'], s.value]), [['q"z\n', -Infinity], ['b', 2]]);
});
