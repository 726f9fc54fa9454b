/**
 * Roles and what each may do (SPEC section 5, "Accounts"). Every use case names the permission it
 * needs; the HTTP routes document the same permission, and the console hides what a role lacks.
 */
export const Role = { admin: 'admin', operator: 'operator', viewer: 'viewer' } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES: readonly Role[] = [Role.admin, Role.operator, Role.viewer];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export const Permission = {
  /** Read certificates, devices, audit log, settings. */
  read: 'read',
  /** Change the keystore and devices: generate, import, delete, reorder, (de)activate. */
  manageCertificates: 'manageCertificates',
  /** Export a private key (K8). */
  exportKeyPair: 'exportKeyPair',
  /** Create and delete accounts. */
  manageAccounts: 'manageAccounts',
  /** Create and restore backups. */
  backup: 'backup',
  /** Change the installation's settings (the expiry warning window, L1). */
  manageSettings: 'manageSettings',
  /** Scrape `GET /metrics` (aggregates only: counts, ages, days to expiry). */
  metrics: 'metrics',
  /** Turn the automatic successors on, change or turn them off (L2). */
  manageLifecycle: 'manageLifecycle',
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: Object.values(Permission),
  // The metrics are aggregates of what every role may read already, so every role may scrape them:
  // a Prometheus server is given the API token of a viewer account.
  operator: [Permission.read, Permission.manageCertificates, Permission.metrics],
  viewer: [Permission.read, Permission.metrics],
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}
