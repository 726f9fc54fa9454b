/**
 * The firmware profiles the agent can emulate (R6): what each reports about itself at
 * registration and which signature algorithms its TLS stack can verify. The algorithms come from
 * the compatibility table certfleet ships with, so the agent and the server's default agree.
 */
import { algorithmMask, DEFAULT_COMPATIBILITY_RULES, PROFILE_IDENTITY } from '../domain/compatibility.js';

export interface FirmwareProfile {
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  /**
   * What the firmware can verify; a certificate signed otherwise is refused in the handshake. For
   * IGEL OS 11/12 that is the whole allow-list; for the legacy profiles no SHA-512 and no ECDSA.
   */
  readonly algorithms: readonly string[];
  /** The same as a bit mask over the allow-list, for the first-contact server name. */
  readonly mask: number;
  /** The newest TLS version the firmware speaks: the legacy ones stop at TLS 1.2. */
  readonly maxTlsVersion: 'TLSv1.2' | 'TLSv1.3';
}

export const DEFAULT_PROFILE = 'igel-os-12';

/** `certfleet simulate`'s default fleet: mostly current firmware, a tenth legacy. */
export const DEFAULT_MIX = 'igel-os-12=70,igel-os-11=20,igel-linux-4.01.650=5,windows-7-embedded-3.08.100=5';

export const PROFILE_NAMES: readonly string[] = Object.keys(PROFILE_IDENTITY);

/** Windows 7 Embedded's Schannel and IGEL Linux 4's OpenSSL end at TLS 1.2. */
const LEGACY_PROFILES: ReadonlySet<string> = new Set(['igel-linux-4.01.650', 'windows-7-embedded-3.08.100']);

const cache = new Map<string, FirmwareProfile>();

/** The profile by name, or null when certfleet does not know it. */
export function firmwareProfile(name: string): FirmwareProfile | null {
  const cached = cache.get(name);
  if (cached) return cached;
  const identity = PROFILE_IDENTITY[name];
  const rule = DEFAULT_COMPATIBILITY_RULES.find((r) => r.profile === name);
  if (!identity || !rule) return null;
  const profile: FirmwareProfile = {
    name,
    osFamily: identity.osFamily,
    osVersion: identity.osVersion,
    algorithms: rule.algorithms,
    mask: algorithmMask(rule.algorithms),
    maxTlsVersion: LEGACY_PROFILES.has(name) ? 'TLSv1.2' : 'TLSv1.3',
  };
  cache.set(name, profile);
  return profile;
}
