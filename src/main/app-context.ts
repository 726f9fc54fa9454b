/**
 * Builds the AppContext from its ports, adding what the context itself owns: the caches of the
 * compatibility table and of the device certificates, one per context (per node), on its clock.
 */
import { CompatibilityRules } from '../app/compatibility.js';
import type { AppContext } from '../app/context.js';
import { DeviceCertificateCache } from '../app/device-keystore.js';
import { ImportPool } from '../crypto/import-pool.js';
import { nodeScheduler } from './system.js';

/** The keystore reader is optional: left out, one pool with the default options serves every context of the process. */
export type AppPorts = Omit<AppContext, 'compatibilityRules' | 'deviceCertificates' | 'keystoreReader'> & {
  readonly keystoreReader?: AppContext['keystoreReader'];
};

let sharedImportPool: ImportPool | null = null;

export function createAppContext(ports: AppPorts): AppContext {
  return {
    ...ports,
    keystoreReader: ports.keystoreReader ?? (sharedImportPool ??= new ImportPool(nodeScheduler)),
    compatibilityRules: new CompatibilityRules(ports.store.compatibility, ports.clock),
    deviceCertificates: new DeviceCertificateCache(ports.store.keystore, ports.clock),
  };
}
