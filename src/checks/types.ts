import { z } from 'zod';
import type { Evidence, FindingStatus, Severity } from '../model/finding.js';
import type { HostInventory } from '../model/host.js';

/** Framework references a check maps to. Ids as the frameworks write them. */
export const ReferencesSchema = z.strictObject({
  /** NIST SP 800-125A Rev. 1 recommendations, e.g. `HY-SR-3`. */
  nist800125a: z.array(z.string().regex(/^HY-SR-\d+$/)).optional(),
  /** DISA STIG rule ids, e.g. `ESXI-80-000008`, `V-256379`. */
  stig: z.array(z.string().min(1)).optional(),
  /** VMware vSphere 8 Security Configuration Guide control id, e.g. `esxi-8.lockdown-mode`. */
  vmwareScg: z
    .string()
    .regex(/^[a-z0-9]+-8\.[a-z0-9-]+$/)
    .optional(),
  /** CIS benchmark ids. */
  cis: z.array(z.string().min(1)).optional(),
  /** Vendor documentation. */
  urls: z.array(z.url()).optional(),
});

export const ParameterSchema = z.strictObject({
  description: z.string().min(1),
  default: z.union([z.string(), z.number(), z.boolean()]),
});

/** Machine-readable metadata every check carries; validated by tests and at load. */
export const CheckMetaSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]+(-8)?(\.[a-z0-9-]+)+$/),
  title: z.string().min(5),
  severity: z.enum(['critical', 'high', 'medium', 'low', 'info']),
  platform: z.enum(['kvm', 'proxmox', 'vmware']),
  resourceType: z.enum(['host', 'vm', 'network', 'cluster', 'switch']),
  rationale: z.string().min(20),
  remediation: z.string().min(10),
  references: ReferencesSchema,
  parameters: z.record(z.string(), ParameterSchema).optional(),
});

export type CheckMeta = z.infer<typeof CheckMetaSchema>;
export type ParamValue = string | number | boolean;

/** One judgement of one resource. `unknown` says why the check could not decide; it never passes silently. */
export interface CheckOutcome {
  status: Exclude<FindingStatus, 'waived'>;
  resource: { type: string; id: string };
  message: string;
  evidence?: Evidence;
}

export interface CheckContext {
  /** The check's parameters: its defaults overlaid with the profile's values. */
  params: Readonly<Record<string, ParamValue>>;
}

/**
 * A check: metadata plus a pure function of the inventory. Returns nothing when the inventory holds no resource
 * it applies to.
 */
export interface Check {
  meta: CheckMeta;
  run(inv: HostInventory, ctx: CheckContext): CheckOutcome[];
}

/**
 * Declares a check. Metadata is validated against `CheckMetaSchema` when the catalogue is loaded
 * (`loadCatalogue`) and by the catalogue test, not at import time.
 */
export function defineCheck(meta: CheckMeta, run: Check['run']): Check {
  return { meta, run };
}

export type { Severity };
