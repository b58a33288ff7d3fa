/**
 * CVSS vectors as advisories carry them (OSV `severity[].score`) to scores: the vector is checked against the
 * grammar of its version (known metric names, allowed values, no metric twice, every base metric present), then
 * scored by `ae-cvss-calculator`. A vector that fails any check is refused (undefined), never guessed at: the
 * calculator itself accepts partial or unknown metrics silently.
 *
 * `baseScore` is the score of the vector as written, the number CNAs and NVD publish as `baseScore`: for CVSS 2.0
 * and 3.x the Base score (temporal and environmental metrics do not change it); for CVSS 4.0 the single score of
 * the vector (CVSS-B, or CVSS-BT/BE/BTE when threat or environmental metrics are present, as the 4.0
 * specification names them).
 */
import { dependency } from '../dependency.js';
import type { CvssScore, Severity } from '../model/finding.js';

type Calculator = typeof import('ae-cvss-calculator');

/**
 * The calculator, loaded on first use rather than with this module: a scan reads scores stored at import time and
 * never scores a vector, and loading the calculator cost a scan about 10 ms. Node's module cache keeps one
 * instance.
 */
function calculator(): Calculator {
  return dependency<Calculator>('ae-cvss-calculator');
}

/** Longer vector strings are refused: a full CVSS 4.0 vector with every metric is about 200 characters. */
export const MAX_VECTOR_LENGTH = 512;

type Grammar = { mandatory: readonly string[]; values: Readonly<Record<string, readonly string[]>> };

const V2: Grammar = {
  mandatory: ['AV', 'AC', 'Au', 'C', 'I', 'A'],
  values: {
    AV: ['L', 'A', 'N'],
    AC: ['H', 'M', 'L'],
    Au: ['M', 'S', 'N'],
    C: ['N', 'P', 'C'],
    I: ['N', 'P', 'C'],
    A: ['N', 'P', 'C'],
    E: ['U', 'POC', 'F', 'H', 'ND'],
    RL: ['OF', 'TF', 'W', 'U', 'ND'],
    RC: ['UC', 'UR', 'C', 'ND'],
    CDP: ['N', 'L', 'LM', 'MH', 'H', 'ND'],
    TD: ['N', 'L', 'M', 'H', 'ND'],
    CR: ['L', 'M', 'H', 'ND'],
    IR: ['L', 'M', 'H', 'ND'],
    AR: ['L', 'M', 'H', 'ND'],
  },
};

const CIA3 = ['N', 'L', 'H'];
const MCIA3 = ['X', 'N', 'L', 'H'];
const REQ = ['X', 'L', 'M', 'H'];

const V3: Grammar = {
  mandatory: ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  values: {
    AV: ['N', 'A', 'L', 'P'],
    AC: ['L', 'H'],
    PR: ['N', 'L', 'H'],
    UI: ['N', 'R'],
    S: ['U', 'C'],
    C: CIA3,
    I: CIA3,
    A: CIA3,
    E: ['X', 'U', 'P', 'F', 'H'],
    RL: ['X', 'O', 'T', 'W', 'U'],
    RC: ['X', 'U', 'R', 'C'],
    CR: REQ,
    IR: REQ,
    AR: REQ,
    MAV: ['X', 'N', 'A', 'L', 'P'],
    MAC: ['X', 'L', 'H'],
    MPR: ['X', 'N', 'L', 'H'],
    MUI: ['X', 'N', 'R'],
    MS: ['X', 'U', 'C'],
    MC: MCIA3,
    MI: MCIA3,
    MA: MCIA3,
  },
};

const CIA4 = ['H', 'L', 'N'];
const MCIA4 = ['X', 'H', 'L', 'N'];
const MSUB4 = ['X', 'S', 'H', 'L', 'N'];

const V4: Grammar = {
  mandatory: ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'],
  values: {
    AV: ['N', 'A', 'L', 'P'],
    AC: ['L', 'H'],
    AT: ['N', 'P'],
    PR: ['N', 'L', 'H'],
    UI: ['N', 'P', 'A'],
    VC: CIA4,
    VI: CIA4,
    VA: CIA4,
    SC: CIA4,
    SI: CIA4,
    SA: CIA4,
    E: ['X', 'A', 'P', 'U'],
    CR: REQ,
    IR: REQ,
    AR: REQ,
    MAV: ['X', 'N', 'A', 'L', 'P'],
    MAC: ['X', 'L', 'H'],
    MAT: ['X', 'N', 'P'],
    MPR: ['X', 'N', 'L', 'H'],
    MUI: ['X', 'N', 'P', 'A'],
    MVC: MCIA4,
    MVI: MCIA4,
    MVA: MCIA4,
    MSC: MCIA4,
    MSI: MSUB4,
    MSA: MSUB4,
    S: ['X', 'N', 'P'],
    AU: ['X', 'N', 'Y'],
    R: ['X', 'A', 'U', 'I'],
    V: ['X', 'D', 'C'],
    RE: ['X', 'L', 'M', 'H'],
    U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
  },
};

/** True when `body` (`K:V/K:V...`) names only known metrics with allowed values, none twice, all mandatory ones. */
function conforms(body: string, g: Grammar): boolean {
  if (body.length === 0) return false;
  const seen = new Set<string>();
  for (const part of body.split('/')) {
    const colon = part.indexOf(':');
    if (colon <= 0) return false;
    const k = part.slice(0, colon);
    const v = part.slice(colon + 1);
    if (!Object.hasOwn(g.values, k) || seen.has(k)) return false;
    if (!g.values[k]!.includes(v)) return false;
    seen.add(k);
  }
  for (const k of g.mandatory) if (!seen.has(k)) return false;
  return true;
}

/**
 * The qualitative rating of a CVSS v3.x / v4.0 score (FIRST's table): 0 none (`info` here), 0.1–3.9 low,
 * 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical.
 */
export function cvssSeverity(score: number): Severity {
  if (!(score > 0)) return 'info';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}

/** The rating of a CVSS v2 score by NVD's bands (v2 itself defines none): 0–3.9 low, 4.0–6.9 medium, 7.0–10 high. */
export function cvssV2Severity(score: number): Severity {
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  return 'high';
}

/**
 * Scores one CVSS vector: `CVSS:4.0/…`, `CVSS:3.1/…`, `CVSS:3.0/…`, or a CVSS 2.0 vector (bare `AV:N/AC:L/…`, also
 * `(AV:…)` as NVD once wrote it, or with a `CVSS:2.0/` prefix). The version comes from the vector's own prefix,
 * not from the record's label (`CVSS_V3`...), which feeds sometimes get wrong.
 * @returns undefined for anything that is not a complete, valid vector of a known version.
 */
export function scoreVector(vector: string): CvssScore | undefined {
  if (typeof vector !== 'string' || vector.length > MAX_VECTOR_LENGTH) return undefined;
  const text = vector.trim();
  try {
    const cvss = calculator();
    if (text.startsWith('CVSS:4.0/')) {
      if (!conforms(text.slice(9), V4)) return undefined;
      return finish('4.0', text, new cvss.Cvss4P0(text).calculateScores().base);
    }
    if (text.startsWith('CVSS:3.1/') || text.startsWith('CVSS:3.0/')) {
      if (!conforms(text.slice(9), V3)) return undefined;
      const v31 = text.charCodeAt(7) === 0x31;
      const scores = v31
        ? new cvss.Cvss3P1(text).calculateScores()
        : new cvss.Cvss3P0(text).calculateScores();
      return finish(v31 ? '3.1' : '3.0', text, scores.base);
    }
    if (text.startsWith('CVSS:') && !text.startsWith('CVSS:2.0/')) return undefined;
    let body = text.startsWith('CVSS:2.0/') ? text.slice(9) : text;
    if (body.startsWith('(') && body.endsWith(')')) body = body.slice(1, -1);
    if (!conforms(body, V2)) return undefined;
    return finish('2.0', text, new cvss.Cvss2(body).calculateScores().base);
  } catch {
    return undefined;
  }
}

function finish(
  version: CvssScore['version'],
  vector: string,
  base: number | undefined,
): CvssScore | undefined {
  if (typeof base !== 'number' || !Number.isFinite(base) || base < 0 || base > 10) return undefined;
  const baseScore = Math.round(base * 10) / 10;
  const severity = version === '2.0' ? cvssV2Severity(baseScore) : cvssSeverity(baseScore);
  return { version, vector, baseScore, severity };
}

/** Order of preference between CVSS versions: 4.0, then 3.1 and 3.0 (one tier), then 2.0. */
export function cvssTier(version: CvssScore['version']): number {
  return version === '4.0' ? 3 : version === '2.0' ? 1 : 2;
}

/**
 * The score a finding's severity follows: among the scores of the most preferred version present (4.0, then
 * 3.1/3.0, then 2.0), the highest. Undefined when there is none.
 */
export function preferredScore(scores: readonly CvssScore[]): CvssScore | undefined {
  let best: CvssScore | undefined;
  for (const s of scores) {
    if (
      best === undefined ||
      cvssTier(s.version) > cvssTier(best.version) ||
      (cvssTier(s.version) === cvssTier(best.version) && s.baseScore > best.baseScore)
    ) {
      best = s;
    }
  }
  return best;
}
