/**
 * The four routes of the device protocol (docs/device-protocol.md). No route takes a device id:
 * each acts on the device its credential names, so one device can never reach another's record.
 * Presenters list every field that leaves the server.
 */
import type { IncomingMessage } from 'node:http';
import type { AppContext } from '../../app/context.js';
import { ErrorCode, isCertfleetError, RETRY_AFTER_DETAIL } from '../../domain/errors.js';
import { presentDevice } from '../http-api/presenters.js';
import type { Logger } from 'pino';
import type { DeviceConnection } from '../../app/device-check-in.js';
import type { DeviceCertificate } from '../../app/device-keystore.js';
import type { DeviceChannelEvents } from './device-channel.js';
import type { DeviceUseCases } from './device-use-cases.js';
import { bearer, readJsonBody, refusal, stringArrayField, stringField } from './http-io.js';
import type { RefusalAudit, RegistrationThrottle, ThrottleVerdict } from './source-limits.js';

export const DEVICE_API_PREFIX = '/device/v1';

export interface RouteAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** What the channel knows of a connection: its pin, and the source it is counted under. */
export interface ChannelConnection extends DeviceConnection {
  readonly source: string;
  /** Takes one registration attempt of the source's budget (a first-contact connection paid for its first). */
  registrationAttempt(): ThrottleVerdict;
}

export type RouteHandler = (req: IncomingMessage, conn: ChannelConnection) => Promise<RouteAnswer>;

/** How registrations from strangers are kept in bounds (source-limits.ts). */
export interface RegistrationLimits {
  readonly throttle: RegistrationThrottle;
  readonly refusals: RefusalAudit;
}

const PEM_MAX = 16 * 1024;
const TEXT_MAX = 256;

function certificateView(c: DeviceCertificate) {
  return { alias: c.alias, sha256Fingerprint: c.sha256Fingerprint, signatureAlgorithm: c.signatureAlgorithm };
}

function certificateWithPem(c: DeviceCertificate & { readonly pem: string }) {
  return { ...certificateView(c), pem: c.pem };
}

/** `METHOD path` → handler. */
export function deviceRoutes(ctx: AppContext, uc: DeviceUseCases, log: Logger, limits: RegistrationLimits, events: DeviceChannelEvents): ReadonlyMap<string, RouteHandler> {
  const authenticated = (req: IncomingMessage) => uc.authenticateDevice(ctx, bearer(req));
  /** A registration answered: counted as done, or as refused with its error code. */
  const countedRegistration = (handler: RouteHandler): RouteHandler => async (req, conn) => {
    try {
      const answer = await handler(req, conn);
      events.registered();
      return answer;
    } catch (e) {
      events.registrationRefused(isCertfleetError(e) ? e.code : ErrorCode.internal);
      throw e;
    }
  };

  return new Map<string, RouteHandler>([
    [
      `POST ${DEVICE_API_PREFIX}/register`,
      countedRegistration(async (req, conn) => {
        // Before any work: a source over its budget learns only when to come back.
        const verdict = conn.registrationAttempt();
        if (!verdict.ok) {
          limits.refusals.count(conn.source, ErrorCode.registration_rate_limited, ctx.clock.now().toISOString());
          throw refusal(
            ErrorCode.registration_rate_limited,
            `Too many registration attempts from this address. Try again in ${verdict.retryAfterSeconds} s.`,
            { [RETRY_AFTER_DETAIL]: verdict.retryAfterSeconds },
          );
        }
        const body = await readJsonBody(req);
        const presented = stringField(body, 'presentedCertificate', { required: false, max: PEM_MAX });
        const profile = stringField(body, 'profile', { required: false, max: TEXT_MAX });
        const supported = stringArrayField(body, 'supportedAlgorithms', { maxItems: 32, max: TEXT_MAX });
        const enrollmentToken = stringField(body, 'enrollmentToken', { required: false, max: TEXT_MAX });
        if (enrollmentToken === undefined) {
          throw refusal(ErrorCode.enrollment_token_invalid, 'Registration needs an enrollment token from an administrator (`certfleet enroll create`).');
        }
        const result = await uc.registerDevice(ctx, {
          enrollmentToken,
          unitId: stringField(body, 'unitId', { required: true, max: TEXT_MAX }) as string, // required: present
          name: stringField(body, 'name', { required: true, max: TEXT_MAX }) as string, // required: present
          osFamily: stringField(body, 'osFamily', { required: true, max: TEXT_MAX }) as string, // required: present
          osVersion: stringField(body, 'osVersion', { required: true, max: TEXT_MAX }) as string, // required: present
          ...(profile !== undefined ? { profile } : {}),
          ...(supported !== undefined ? { supportedAlgorithms: supported } : {}),
          ...(presented !== undefined ? { presentedCertificatePem: presented } : {}),
        }, { refusals: limits.refusals.sinkFor(conn.source) });
        limits.throttle.giveBack(conn.source);
        if (result.replacedMd5Certificate) {
          // R4: the leftover of an older installation; the use case wrote it to the audit log too.
          log.info({ event: 'device.md5-certificate-replaced', deviceId: result.deviceId, presented: result.replacedMd5Certificate, newAlias: result.certificate.alias }, 'device presented an MD5-signed certificate; it was given a new one');
        }
        return {
          status: 201,
          body: { deviceId: result.deviceId, credential: result.credential, certificate: certificateWithPem(result.certificate) },
        };
      }),
    ],
    [
      `POST ${DEVICE_API_PREFIX}/check-in`,
      async (req, conn) => {
        // The credential is proven by the statement that records the check-in (one statement).
        const body = await readJsonBody(req);
        const osVersion = stringField(body, 'osVersion', { required: false, max: TEXT_MAX });
        const r = await uc.checkInByCredential(ctx, bearer(req), conn, osVersion !== undefined ? { osVersion } : {});
        events.checkedIn();
        return {
          status: 200,
          body: {
            deviceId: r.deviceId,
            certificate: certificateView(r.certificate),
            replacement: r.replacement ? certificateWithPem(r.replacement) : null,
            checkInSeconds: r.checkInSeconds,
          },
        };
      },
    ],
    [
      `POST ${DEVICE_API_PREFIX}/confirm`,
      async (req, conn) => {
        const device = await authenticated(req);
        const body = await readJsonBody(req);
        const sha256 = stringField(body, 'sha256Fingerprint', { required: true, max: 128 }) as string; // required: present
        const r = await uc.confirmReplacement(ctx, device, conn, sha256);
        return { status: 200, body: { certificate: certificateView(r.certificate) } };
      },
    ],
    [
      `GET ${DEVICE_API_PREFIX}/me`,
      async (req) => {
        const device = await authenticated(req);
        return { status: 200, body: presentDevice(await uc.getOwnDevice(ctx, device)) };
      },
    ],
  ]);
}
