/** `certfleet device list|show|delete`: the registered devices (SPEC section 2, 5). */
import type { Command } from 'commander';
import { configuredClient as client, type ApiClient } from './api-client.js';
import { printJson, say, table, wholeNumber } from './cli-io.js';
import type { DevicePage, DeviceSummary } from '../http-api/contract/index.js';

/** The API serves at most this many devices per page. */
const PAGE = 500;
const enc = encodeURIComponent;

/**
 * Every device of a paged listing (`path` with `offset`, `limit`, `search` and any `extra` query),
 * or the first `limit` of them: `{count, devices}` as one document.
 */
export async function fetchDevices(
  api: ApiClient,
  path: string,
  opts: { readonly search?: string; readonly limit?: number; readonly extra?: Readonly<Record<string, string>> },
): Promise<DevicePage> {
  const devices: DeviceSummary[] = [];
  let count = 0;
  const want = opts.limit ?? Number.POSITIVE_INFINITY;
  for (;;) {
    // At least one row is asked for, so that `--limit 0` still learns the count.
    const limit = Math.max(1, Math.min(PAGE, want - devices.length));
    const q = new URLSearchParams({
      ...opts.extra,
      offset: String(devices.length),
      limit: String(limit),
      ...(opts.search ? { search: opts.search } : {}),
    });
    const page = await api.json<DevicePage>('GET', `${path}?${q}`);
    count = page.count;
    devices.push(...page.devices);
    if (page.devices.length < limit || devices.length >= Math.min(want, count)) break;
  }
  return { count, devices: devices.slice(0, want) };
}

export function printDevices(heading: string, page: DevicePage): void {
  say(`${heading}\n`);
  say(
    table(
      ['ID', 'UNIT ID', 'NAME', 'OS', 'PROFILE', 'CERTIFICATE', 'PENDING', 'LAST CONTACT'],
      page.devices.map((d) => [
        d.id,
        d.unitId,
        d.name,
        `${d.osFamily} ${d.osVersion}`,
        d.profile ?? '',
        d.reRegistrationRequired ? `${d.certificateAlias} (RE-REGISTER: ${d.reRegistrationReason ?? ''})` : d.certificateAlias,
        d.pendingCertificateAlias ?? '',
        d.lastContactAt ?? 'never',
      ]),
    ),
  );
  if (page.devices.length < page.count) say(`(${page.devices.length} of ${page.count} shown)\n`);
}

function describeDevice(d: DeviceSummary): string {
  const rows: [string, string][] = [
    ['id', d.id],
    ['unit id', d.unitId],
    ['name', d.name],
    ['os', `${d.osFamily} ${d.osVersion}`],
    ['profile', d.profile ?? '(none reported)'],
    ['algorithms', d.supportedAlgorithms.join(', ')],
    ['certificate', d.certificateAlias],
    ['pending', d.pendingCertificateAlias ?? '(none)'],
    ['registered', d.registeredAt],
    ['last contact', d.lastContactAt ?? 'never'],
    ['re-register', d.reRegistrationRequired ? `required (${d.reRegistrationReason ?? ''}): give it a new enrollment token` : 'no'],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(14)}${v}\n`).join('');
}

export function addDeviceCommands(program: Command): void {
  const device = program.command('device').description('registered devices');

  device.command('list').description('registered devices, by name')
    .option('--cert <alias>', 'only devices that pin this certificate or have it pending')
    .option('--search <text>', 'only devices whose id, unit id or name contains this')
    .option('--re-registration-required', 'only devices that must register again after a restore')
    .option('--limit <n>', 'at most this many (default: all)', wholeNumber('--limit'))
    .option('--json', 'print JSON: {"count": N, "devices": [...]}')
    .action(async (opts: { cert?: string; search?: string; limit?: number; json?: boolean; reRegistrationRequired?: boolean }) => {
      const extra = {
        ...(opts.cert ? { certificate: opts.cert } : {}),
        ...(opts.reRegistrationRequired ? { reRegistrationRequired: 'true' } : {}),
      };
      const page = await fetchDevices(client(), '/api/v1/devices', { ...opts, extra });
      if (opts.json) printJson(page);
      else printDevices(`Devices${opts.cert ? ` which use ${opts.cert}` : ''}${opts.reRegistrationRequired ? ' that must register again' : ''} (${page.count})`, page);
    });

  device.command('show').argument('<id>').description('one device')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const d = await client().json<DeviceSummary>('GET', `/api/v1/devices/${enc(id)}`);
      if (opts.json) printJson(d);
      else say(describeDevice(d));
    });

  device.command('delete').argument('<id>').description('forget a device; it must register again')
    .action(async (id: string) => {
      await client().call('DELETE', `/api/v1/devices/${enc(id)}`);
      say(`Deleted device ${id}; its credential no longer works.\n`);
    });
}
