import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { HyperwardError } from '../errors.js';
import { fingerprint, type Finding, type Waiver } from '../model/finding.js';
import { globToRegExp } from './profile.js';

const WaiverSchema = z.strictObject({
  check: z.string().min(1),
  /** A glob over the resource id (`*` matches anything). */
  resource: z.string().min(1),
  justification: z.string().min(1),
  owner: z.string().min(1),
  expires: z.iso.date(),
});
const WaiverFileSchema = z.strictObject({ waivers: z.array(WaiverSchema).max(100_000) });

/** Reads a waiver file (YAML or JSON): `waivers: [{check, resource, justification, owner, expires}]`. */
export function loadWaivers(path: string): Waiver[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new HyperwardError('E_USAGE', `cannot read waiver file: ${(e as Error).message}`, { file: path });
  }
  const parsed = WaiverFileSchema.safeParse(parseYaml(text, { maxAliasCount: 100 }));
  if (!parsed.success) {
    throw new HyperwardError('E_USAGE', `invalid waiver file: ${z.prettifyError(parsed.error)}`, {
      file: path,
    });
  }
  return parsed.data.waivers;
}

/**
 * Marks failing and unknown findings covered by a waiver as `waived`. A waiver past its expiry date (UTC) no
 * longer applies: the finding keeps its status and records the expired waiver, and one `hyperward.waiver-expired`
 * finding per expired waiver says so.
 */
export function applyWaivers(findings: Finding[], waivers: readonly Waiver[], today = new Date()): Finding[] {
  const day = today.toISOString().slice(0, 10);
  const compiled = waivers.map((w) => ({
    w,
    check: globToRegExp(w.check),
    res: globToRegExp(w.resource),
    expired: w.expires < day,
  }));
  const out: Finding[] = [];
  const usedExpired = new Set<number>();
  for (const f of findings) {
    if (f.status !== 'fail' && f.status !== 'unknown') {
      out.push(f);
      continue;
    }
    // A live waiver wins over an expired one that also matches, whatever their order in the file.
    const matches = (c: (typeof compiled)[number]): boolean =>
      c.check.test(f.checkId) && c.res.test(f.resource.id);
    const live = compiled.findIndex((c) => !c.expired && matches(c));
    const i = live >= 0 ? live : compiled.findIndex(matches);
    if (i < 0) {
      out.push(f);
      continue;
    }
    const c = compiled[i]!;
    if (c.expired) {
      usedExpired.add(i);
      out.push({ ...f, waiver: { ...c.w, expired: true } });
    } else {
      out.push({ ...f, status: 'waived', waiver: { ...c.w } });
    }
  }
  for (const i of usedExpired) {
    const w = compiled[i]!.w;
    out.push({
      id: fingerprint('hyperward.waiver-expired', 'waiver', `${w.check} ${w.resource}`),
      checkId: 'hyperward.waiver-expired',
      severity: 'low',
      status: 'fail',
      title: 'Waiver expired',
      message: `the waiver for ${w.check} on ${w.resource} (owner ${w.owner}) expired on ${w.expires}; the findings it covered count again`,
      resource: { type: 'waiver', id: `${w.check} ${w.resource}` },
    });
  }
  return out;
}
