/**
 * Builds the AppContext from its ports, adding what the context itself owns: the caches of the
 * compatibility table and of the device certificates, one per context (per node), on its clock.
 */
import { CompatibilityRules } from '../app/compatibility.js';
import type { AppContext } from '../app/context.js';
import { DeviceCertificateCache } from '../app/device-keystore.js';

export type AppPorts = Omit<AppContext, 'compatibilityRules' | 'deviceCertificates'>;

export function createAppContext(ports: AppPorts): AppContext {
  return {
    ...ports,
    compatibilityRules: new CompatibilityRules(ports.store.compatibility, ports.clock),
    deviceCertificates: new DeviceCertificateCache(ports.store.keystore, ports.clock),
  };
}
