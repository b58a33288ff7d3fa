/**
 * Package version ordering for the ecosystems the vulnerability matcher knows, each written to the letter of its
 * format: Debian (deb-version(7)), RPM (rpmvercmp + EVR) and Alpine (apk-tools).
 */
import { HyperwardError } from '../../errors.js';
import { keepShape } from '../../shapes.js';
import { compareApk } from './apk.js';
import { compareDeb, compareDebIn, prepareDeb, type PreparedDeb } from './deb.js';
import { compareRpm } from './rpm.js';

export {
  compareApk,
  compareApkFuzzy,
  isValidApk,
  parseApk,
  MAX_APK_VERSION_LENGTH,
  type ApkVersion,
} from './apk.js';
export {
  compareDeb,
  compareDebIn,
  compareDebParts,
  debBounds,
  prepareDeb,
  isValidDeb,
  parseDeb,
  MAX_DEB_VERSION_LENGTH,
  type DebVersion,
  type PreparedDeb,
} from './deb.js';
export { compareRpm, parseRpm, rpmvercmp, MAX_RPM_VERSION_LENGTH, type RpmVersion } from './rpm.js';

/** The version schemes `compareVersions` understands. */
export type VersionEcosystem = 'deb' | 'rpm' | 'apk';

/**
 * Orders two versions of the given ecosystem: `deb` (`[epoch:]upstream[-revision]`), `rpm`
 * (`[epoch:]version[-release]`) or `apk`.
 * @returns -1, 0 or 1 as `a` sorts before, equal to or after `b`.
 * @throws HyperwardError `E_USAGE` for an unknown ecosystem or a version the ecosystem's tool refuses.
 */
export function compareVersions(ecosystem: VersionEcosystem, a: string, b: string): -1 | 0 | 1 {
  switch (ecosystem) {
    case 'deb':
      return compareDeb(a, b);
    case 'rpm':
      return compareRpm(a, b);
    case 'apk':
      return compareApk(a, b);
    default:
      throw new HyperwardError(
        'E_USAGE',
        `unknown version ecosystem '${String(ecosystem)}' (expected deb, rpm or apk)`,
      );
  }
}

/** A version taken apart once (`prepareVersion`), to be compared with many (`compareVersionIn`). */
export class PreparedVersion {
  constructor(
    readonly ecosystem: VersionEcosystem,
    readonly value: string,
    /** The Debian version taken apart, for `deb`. */
    readonly deb: PreparedDeb | undefined,
  ) {}
}

/**
 * Prepares `b` for `compareVersionIn`: a Debian version is taken apart once.
 * @throws HyperwardError `E_USAGE` as `compareVersions` does.
 */
export function prepareVersion(ecosystem: VersionEcosystem, b: string): PreparedVersion {
  return new PreparedVersion(ecosystem, b, ecosystem === 'deb' ? prepareDeb(b) : undefined);
}

/**
 * Orders the version `a.slice(from, to)` against a prepared one as `compareVersions` does; for Debian versions
 * nothing is sliced.
 * @throws HyperwardError `E_USAGE` as `compareVersions` does.
 */
export function compareVersionIn(a: string, from: number, to: number, b: PreparedVersion): -1 | 0 | 1 {
  if (b.deb !== undefined) return compareDebIn(a, from, to, b.deb);
  return compareVersions(b.ecosystem, a.slice(from, to), b.value);
}

// Made for every package matched: see `shapes.ts`.
keepShape(new PreparedVersion('deb', '0', undefined));
