/**
 * What the device channel needs from src/app (docs/design/devices-contract.md), as one object so
 * that a test can wrap a use case (a fault injector, a counter) without touching the channel.
 */
import { authenticateDevice, checkInByCredential, confirmReplacement, getOwnDevice } from '../../app/device-check-in.js';
import { keystoreRevision, loadDeviceKeystore } from '../../app/device-keystore.js';
import { registerDevice } from '../../app/register-device.js';

export interface DeviceUseCases {
  readonly registerDevice: typeof registerDevice;
  readonly authenticateDevice: typeof authenticateDevice;
  readonly checkInByCredential: typeof checkInByCredential;
  readonly confirmReplacement: typeof confirmReplacement;
  readonly getOwnDevice: typeof getOwnDevice;
  readonly loadDeviceKeystore: typeof loadDeviceKeystore;
  readonly keystoreRevision: typeof keystoreRevision;
}

export const APP_DEVICE_USE_CASES: DeviceUseCases = {
  registerDevice,
  authenticateDevice,
  checkInByCredential,
  confirmReplacement,
  getOwnDevice,
  loadDeviceKeystore,
  keystoreRevision,
};
