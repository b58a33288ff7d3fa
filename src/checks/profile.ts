import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { HyperwardError } from '../errors.js';
import type { Check, ParamValue } from './types.js';

const ParamValueSchema = z.union([z.string(), z.number(), z.boolean()]);

/** A profile selects checks (globs over ids) and sets their parameters where baselines disagree. */
export const ProfileSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  /** A built-in profile to start from. */
  extends: z.string().optional(),
  include: z.array(z.string()).optional(),
  exclude: z.array(z.string()).optional(),
  parameters: z.record(z.string(), z.record(z.string(), ParamValueSchema)).optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;

/**
 * Built-in profiles. `default` follows the VMware Security Configuration Guide where it sets a value; `stig`
 * takes the DISA STIG's stricter values (account lockout after 3 failures rather than 5, shell timeout 600 s).
 */
export const BUILTIN_PROFILES: Readonly<Record<string, Profile>> = {
  default: { name: 'default', description: 'every check, VMware Security Configuration Guide values' },
  'vmware-scg': {
    name: 'vmware-scg',
    description: 'VMware checks only, guide values',
    include: ['esxi-8.*', 'vm-8.*'],
  },
  stig: {
    name: 'stig',
    description: 'every check, DISA STIG values where they differ from the vendor guides',
    parameters: {
      'esxi-8.account-lockout': { maxFailures: 3 },
      'esxi-8.shell-timeout': { maxSeconds: 600 },
    },
  },
};

/** `*` matches any run of characters (including dots and line breaks); everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${re}$`, 's');
}

/** Loads a profile by built-in name or from a YAML/JSON file, resolving `extends` (one level of built-ins). */
export function loadProfile(nameOrPath: string): Profile {
  const builtin = BUILTIN_PROFILES[nameOrPath];
  if (builtin) return builtin;
  let text: string;
  try {
    text = readFileSync(nameOrPath, 'utf8');
  } catch (e) {
    throw new HyperwardError(
      'E_USAGE',
      `no built-in profile ${JSON.stringify(nameOrPath)} (${Object.keys(BUILTIN_PROFILES).join(', ')}) and no such file`,
      { file: nameOrPath },
      { cause: e },
    );
  }
  const parsed = ProfileSchema.safeParse(parseYaml(text, { maxAliasCount: 100 }));
  if (!parsed.success) {
    throw new HyperwardError('E_USAGE', `invalid profile: ${z.prettifyError(parsed.error)}`, {
      file: nameOrPath,
    });
  }
  const p = parsed.data;
  if (p.extends === undefined) return p;
  const base = BUILTIN_PROFILES[p.extends];
  if (!base)
    throw new HyperwardError('E_USAGE', `profile extends unknown built-in ${p.extends}`, {
      file: nameOrPath,
    });
  const merged: Profile = { ...base, ...p, parameters: { ...base.parameters } };
  for (const [id, params] of Object.entries(p.parameters ?? {})) {
    merged.parameters![id] = { ...base.parameters?.[id], ...params };
  }
  if (p.include === undefined && base.include) merged.include = base.include;
  merged.exclude = [...(base.exclude ?? []), ...(p.exclude ?? [])];
  return merged;
}

/** The checks a profile selects, each with its effective parameters. Unknown parameter names are an error. */
export function selectChecks(
  catalogue: readonly Check[],
  profile: Profile,
): Array<{ check: Check; params: Record<string, ParamValue> }> {
  const inc = (profile.include ?? ['*']).map(globToRegExp);
  const exc = (profile.exclude ?? []).map(globToRegExp);
  const ids = new Set(catalogue.map((c) => c.meta.id));
  for (const [id, params] of Object.entries(profile.parameters ?? {})) {
    const check = catalogue.find((c) => c.meta.id === id);
    if (!ids.has(id) || !check)
      throw new HyperwardError('E_USAGE', `profile ${profile.name}: no check ${id}`);
    for (const [k, v] of Object.entries(params)) {
      const declared = check.meta.parameters?.[k];
      if (!declared) {
        throw new HyperwardError('E_USAGE', `profile ${profile.name}: check ${id} has no parameter ${k}`);
      }
      if (typeof v !== typeof declared.default) {
        throw new HyperwardError(
          'E_USAGE',
          `profile ${profile.name}: ${id} parameter ${k} must be a ${typeof declared.default}, not ${JSON.stringify(v)}`,
        );
      }
    }
  }
  // A glob that selects nothing is almost always a typo; say so rather than silently assess less.
  for (const glob of [...(profile.include ?? []), ...(profile.exclude ?? [])]) {
    const re = globToRegExp(glob);
    if (!catalogue.some((c) => re.test(c.meta.id))) {
      throw new HyperwardError(
        'E_USAGE',
        `profile ${profile.name}: ${JSON.stringify(glob)} matches no check`,
      );
    }
  }
  return catalogue
    .filter((c) => inc.some((r) => r.test(c.meta.id)) && !exc.some((r) => r.test(c.meta.id)))
    .map((check) => {
      const params: Record<string, ParamValue> = {};
      for (const [k, p] of Object.entries(check.meta.parameters ?? {})) params[k] = p.default;
      Object.assign(params, profile.parameters?.[check.meta.id]);
      return { check, params };
    });
}
