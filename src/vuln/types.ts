/**
 * The advisory model every importer produces, the database stores and the matcher reads. Types only, no I/O.
 *
 * One `Advisory` is one record of one feed: an OSV record (`DSA-5532-1`, `USN-6543-1`, `RHSA-2024:1234`,
 * `ALSA-2024:1234`, `RLSA-2024:1234`, `SUSE-SU-2024:1234-1`, `DEBIAN-CVE-2024-1234`...), one CVE of the Debian
 * security tracker, or one CVE of one Alpine secdb file.
 */
import type { CvssScore } from '../model/finding.js';
import type { PackageEcosystem } from '../model/inventory.js';
import type { PackedRow } from './packed.js';
import type { VerdictRow } from './verdict.js';

/** The feed a record came from (`nvd`: NVD CVE records, matched by CPE, stored apart: see `cpe-match.ts`). */
export type AdvisoryOrigin = 'osv' | 'debian-tracker' | 'alpine-secdb' | 'nvd';

/** One event of an OSV `ECOSYSTEM` range, in the order the record gives them. */
export type RangeEvent = { introduced: string } | { fixed: string } | { last_affected: string };

/**
 * A distribution release as the matcher keys it, normalized from the feed's own spelling:
 * `debian:12`, `ubuntu:22.04`, `ubuntu-pro:18.04`, `alpine:3.19`, `rhel:9`, `almalinux:9`, `rocky:9`,
 * `sles:15.5`, `sled:15.5`, `opensuse-leap:15.5`, `opensuse-tumbleweed`.
 */
export type DistroKey = string;

/** What one advisory says about one package of one distribution release. */
export interface AffectedPackage {
  /** The ecosystem exactly as the feed wrote it: `Debian:12`, `Red Hat:enterprise_linux:9::appstream`... */
  ecosystem: string;
  distro: DistroKey;
  /** Version scheme of the distro: how `ranges` and `versions` compare. */
  scheme: PackageEcosystem;
  /**
   * Source package for Debian, Ubuntu and Alpine (they key advisories that way); binary package for the RPM
   * distributions.
   */
  package: string;
  /** `ECOSYSTEM` ranges only (others are dropped at import); each is one list of events. */
  ranges: RangeEvent[][];
  /** Versions listed as affected one by one (OSV `versions`). */
  versions: string[];
  /** Architectures the entry is restricted to (`x86_64`, `amd64`...); absent = all. */
  arches?: string[];
  /** RPM module stream the entry is restricted to (`nodejs:18`); absent = not modular. */
  module?: string;
  /** The distro's own rating for this package, where the feed gives it per package (Debian urgency...). */
  distroSeverity?: string;
  /** The distro has decided not to fix (Debian `no-dsa`/`ignored`, Red Hat "Will not fix"). */
  wontFix?: boolean;
}

/** A CVSS vector as the record gives it (`CVSS_V3` / `CVSS_V4` / `CVSS_V2`). */
export interface SeverityVector {
  type: 'CVSS_V2' | 'CVSS_V3' | 'CVSS_V4';
  vector: string;
}

export interface AdvisoryReference {
  /** OSV reference type: `ADVISORY`, `WEB`, `REPORT`, `FIX`, `PACKAGE`, `ARTICLE`... */
  type: string;
  url: string;
}

export interface Advisory {
  /** Unique storage key: `osv:DSA-5532-1`, `debian-tracker:CVE-2024-1`, `alpine-secdb:v3.19/main:CVE-2024-1`. */
  key: string;
  /** The id users see: the record's own id. */
  id: string;
  origin: AdvisoryOrigin;
  /** Other ids of the same problem (CVE, GHSA, the upstream record...), without `id` itself. */
  aliases: string[];
  /**
   * OSV `upstream`: the vulnerabilities this record is a distribution's statement about (a USN lists its
   * `UBUNTU-CVE-…` records there). Used, like `aliases`, to tell which CVEs the record is about.
   */
  upstream: string[];
  /** OSV `related`: other problems close to this one; for display, and to place old records with no aliases. */
  related: string[];
  summary?: string;
  /** Capped at `MAX_DETAILS` characters on import. */
  details?: string;
  /** ISO 8601. */
  published?: string;
  /** ISO 8601; drives incremental re-import. */
  modified: string;
  withdrawn?: string;
  severity: SeverityVector[];
  /** The distro's own rating for the whole record (Ubuntu priority, Red Hat severity...). */
  distroSeverity?: string;
  references: AdvisoryReference[];
  affected: AffectedPackage[];
}

/** An advisory without its affected entries: what matching needs of a record beyond the hits. */
export type AdvisoryRecord = Omit<Advisory, 'affected'>;

export const MAX_DETAILS = 4096;

/** One problem with one record of a feed: reported, skipped, the import goes on. */
export interface ImportIssue {
  /** The file (and, inside a zip, `archive.zip!member.json`). */
  file: string;
  /** Record id or JSON path when known. */
  record?: string;
  message: string;
}

/** What one `db import` did. */
export interface ImportSummary {
  sources: Array<{ path: string; kind: AdvisoryOrigin; records: number }>;
  added: number;
  updated: number;
  unchanged: number;
  /** Records the feed names but which no known distribution uses (npm, PyPI... in an OSV dump). */
  ignored: number;
  issues: ImportIssue[];
}

/** What the matcher asks the database: every affected entry for one package of one distro release. */
export interface AdvisoryIndex {
  /** `distro` is a `DistroKey`, or a prefix ending in `:` never; exact keys only. */
  lookup(distro: DistroKey, pkg: string): AffectedHit[];
  /**
   * The advisory a hit came from, without its affected entries (the hits carry those); cached by the
   * implementation, so asking again for the same key is cheap.
   */
  advisory(key: string): AdvisoryRecord | undefined;
  /**
   * Optional bulk form of `lookup`: the hits of many packages of one distro release at once, by package name
   * (names without hits may be absent). Each list in the same order `lookup` gives. An index backed by a database
   * answers this in one query; the matcher falls back to `lookup` per name without it.
   */
  lookupMany?(distro: DistroKey, packages: readonly string[]): Map<string, AffectedHit[]>;
  /**
   * Optional: the matcher's facts (`matchFactsOf`) of many advisories at once, by key (unknown keys absent). The
   * database stores them at import time; without this method the matcher derives them from `advisory`.
   */
  matchFacts?(keys: readonly string[]): Map<string, MatchFacts>;
  /**
   * Optional: the entries of many packages of one distro release packed with their advisories' facts (`packed.ts`),
   * by package name (names without entries may be absent); undefined when the index cannot give them. The matcher
   * then needs neither `lookupMany` nor `matchFacts`; what it finds is the same.
   */
  matchRows?(
    distro: DistroKey,
    packages: readonly string[],
    /**
     * The generation of the verdicts the caller decided with (`VerdictRow.generation`): the rows must be the ones
     * they were worked out from, or the index throws (an import committed in between).
     */
    generation?: string,
  ): Map<string, PackedRow> | undefined;
  /**
   * Optional: the verdicts (`verdict.ts`) of many packages of one distro release, by package name — every name the
   * index has entries for is present (with the "none" verdict where the matcher must evaluate the entries itself),
   * names it has nothing about are absent; undefined when the index has no verdicts it can vouch for. An index that
   * gives verdicts also gives `matchRows`, from which the findings are built.
   */
  verdictRows?(distro: DistroKey, packages: readonly string[]): Map<string, VerdictRow> | undefined;
}

/** One affected entry with the key of the advisory it belongs to. */
export interface AffectedHit {
  advisoryKey: string;
  affected: AffectedPackage;
}

/** What the matcher needs of one advisory, derived from the record by `matchFactsOf` (`facts.ts`). */
export interface MatchFacts {
  /** The advisory's storage key. */
  key: string;
  id: string;
  origin: AdvisoryOrigin;
  /** Withdrawn records say nothing. */
  withdrawn: boolean;
  /** The vulnerabilities the record is about (`vulnerabilityIds`). */
  vulnIds: string[];
  /** The record's valid CVSS vectors, scored, one per (normalised) vector, in the record's order. */
  cvss: CvssScore[];
  /** Vectors that do not score, as written: each is reported once per match. */
  badVectors: string[];
  /** The record's own rating (per-record). */
  distroSeverity?: string;
  /**
   * Ids that may become aliases of a finding, in order: the record's id, aliases, upstream and related ids; CVE
   * ids left out (a CVE is an alias only of itself) and each id once.
   */
  aliasIds: string[];
  published?: string;
  modified: string;
  /** The summary on one line, capped at `MAX_SUMMARY`; absent when the record has none (or only white space). */
  summary?: string;
  /** The first usable `ADVISORY` link. */
  advisoryUrl?: string;
  /** The usable links (http or https, at most `MAX_URL` long), each once, in order; at most `MAX_FACT_URLS`. */
  urls: string[];
}
