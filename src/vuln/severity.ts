/**
 * A vulnerability finding's severity: the distribution's own rating where it gave a real one, else the CVSS score
 * of the preferred version, else `medium` marked as assumed. Pure functions, no I/O.
 *
 * Distribution vocabularies (one table serves all: their words do not collide):
 * - Debian security tracker urgency: `unimportant`, `low`, `medium`, `high` (a trailing `*`/`**` marks how it was
 *   set and is ignored); `not yet assigned` and `end-of-life` are no rating.
 * - Ubuntu priority: `negligible`, `low`, `medium`, `high`, `critical`; `untriaged` is no rating.
 * - Red Hat, AlmaLinux, Rocky Linux and SUSE: `Low`, `Moderate`, `Important`, `Critical`.
 * `unimportant` / `negligible` (the distribution considers it no real risk) become `info`.
 */
import type { CvssScore, Severity } from '../model/finding.js';
import { preferredScore } from './cvss.js';

/**
 * The severity a distribution's rating means, or undefined when the text is not a real rating (`not yet
 * assigned`, `unknown`, `untriaged`, empty, anything unrecognised). Case-insensitive.
 */
export function distroRating(rating: string): Severity | undefined {
  if (typeof rating !== 'string' || rating.length > 64) return undefined;
  const r = rating.trim().toLowerCase().replace(/\*+$/, '');
  switch (r) {
    case 'critical':
      return 'critical';
    case 'high':
    case 'important':
      return 'high';
    case 'medium':
    case 'moderate':
      return 'medium';
    case 'low':
      return 'low';
    case 'negligible':
    case 'unimportant':
      return 'info';
    default:
      return undefined;
  }
}

/**
 * Whose rating a distro key's records carry: `debian:12` → `debian`, `ubuntu-pro:18.04` → `ubuntu`, `rhel:9` →
 * `redhat`, `sles:15.5` / `opensuse-leap:15.5` → `suse`, `almalinux:9` → `almalinux`, `rocky:9` → `rocky`,
 * `alpine:3.19` → `alpine`.
 */
export function ratingSource(distro: string): string {
  const head = distro.split(':')[0] ?? distro;
  if (head === 'rhel') return 'redhat';
  if (head === 'ubuntu-pro') return 'ubuntu';
  if (head === 'sles' || head === 'sled' || head.startsWith('opensuse')) return 'suse';
  return head;
}

/** How a finding's severity was decided. */
export interface SeverityDecision {
  severity: Severity;
  source: 'distro' | 'cvss' | 'none';
  /** The rating used, when `source` is `distro`. */
  distro?: { source: string; rating: string };
}

/**
 * Decides a finding's severity. `ratings` are the distributions' ratings in order of preference (the caller puts
 * the most specific first); the first real one wins. Otherwise the CVSS score of the preferred version (4.0, then
 * 3.1/3.0, then 2.0; the highest of that version) gives it, rated as that score's `severity`. Otherwise `medium`
 * with source `none`.
 */
export function decideSeverity(
  ratings: ReadonlyArray<{ source: string; rating: string }>,
  scores: readonly CvssScore[],
): SeverityDecision {
  for (const r of ratings) {
    const sev = distroRating(r.rating);
    if (sev !== undefined)
      return { severity: sev, source: 'distro', distro: { source: r.source, rating: r.rating } };
  }
  const best = preferredScore(scores);
  if (best) return { severity: best.severity, source: 'cvss' };
  return { severity: 'medium', source: 'none' };
}
