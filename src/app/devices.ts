/**
 * The devices as an administrator sees them (R5, K10): list (all, or those of one certificate),
 * search, show, delete. A deleted device's credential stops working at once; the device has to
 * register again with an enrollment token.
 */
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { Permission } from '../domain/roles.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import type { DeviceListQuery, DeviceRecord, Page } from './records.js';

/** The device administration's view of the devices. */
export interface DeviceAdminRepo {
  /** Every device (or those of one certificate), by name, searchable, paged. */
  list(query: DeviceListQuery): Promise<Page<DeviceRecord>>;
  findById(id: string): Promise<DeviceRecord | null>;
  /** Returns whether a device was removed. */
  remove(id: string): Promise<boolean>;
}

export const MAX_DEVICE_PAGE = 1000;

export interface DeviceListRequest {
  readonly certificateAlias?: string;
  readonly reRegistrationRequired?: boolean;
  readonly search?: string;
  readonly offset: number;
  readonly limit: number;
}

function deviceNotFound(id: string): CertfleetError {
  return new CertfleetError(
    ErrorCode.device_not_found,
    `There is no device with the id "${id.slice(0, 80)}". List them with \`certfleet device list\`.`,
    { id },
  );
}

export async function listDevices(ctx: AppContext, actor: Actor, q: DeviceListRequest): Promise<Page<DeviceRecord>> {
  authorize(actor, Permission.read);
  if (!Number.isSafeInteger(q.offset) || q.offset < 0 || !Number.isSafeInteger(q.limit) || q.limit < 0 || q.limit > MAX_DEVICE_PAGE) {
    throw new CertfleetError(ErrorCode.invalid_request, `offset is a whole number ≥ 0 and limit one from 0 to ${MAX_DEVICE_PAGE}.`, {
      field: 'limit',
      maximum: MAX_DEVICE_PAGE,
    });
  }
  let certificateId: string | undefined;
  if (q.certificateAlias !== undefined) {
    const entry = await ctx.store.keystore.findByAlias(q.certificateAlias);
    if (!entry) {
      throw new CertfleetError(
        ErrorCode.certificate_not_found,
        `There is no certificate with the alias "${q.certificateAlias}". List them with \`certfleet cert list\`.`,
        { alias: q.certificateAlias },
      );
    }
    certificateId = entry.id;
  }
  return ctx.store.devices.list({
    offset: q.offset,
    limit: q.limit,
    ...(q.search !== undefined ? { search: q.search.slice(0, 128) } : {}),
    ...(q.reRegistrationRequired !== undefined ? { reRegistrationRequired: q.reRegistrationRequired } : {}),
    ...(certificateId !== undefined ? { certificateId } : {}),
  });
}

export async function getDevice(ctx: AppContext, actor: Actor, id: string): Promise<DeviceRecord> {
  authorize(actor, Permission.read);
  const found = await ctx.store.devices.findById(id);
  if (!found) throw deviceNotFound(id);
  return found;
}

export async function deleteDevice(ctx: AppContext, actor: Actor, id: string): Promise<void> {
  await auditedChange(ctx, actor, 'device.delete', id, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    await ctx.store.transaction(async (tx) => {
      const found = await tx.devices.findById(id);
      if (!found || !(await tx.devices.remove(id))) throw deviceNotFound(id);
      await audit.ok(tx, { unitId: found.unitId, name: found.name, certificateAlias: found.certificateAlias });
    });
  });
}
