import type { Finding } from './finding.js';
import type { ApplianceInfo, ImageInfo, SystemInventory } from './inventory.js';

export interface TargetError {
  code: string;
  message: string;
}

/** What one target (an image, a host, a config file) yielded. */
export interface ScanResult extends SystemInventory {
  target: string;
  /**
   * `image`: a disk image; `host`: a hypervisor host; `config`: one configuration file; `sbom`: a software bill of
   * materials made by another tool.
   */
  kind: 'image' | 'host' | 'config' | 'sbom';
  /** Set when the target could not be read at all; the rest of the run goes on. */
  error?: TargetError;
  /** The disk image; for an appliance, the disk the OS inventory was read from (all its disks are in `appliance`). */
  image?: ImageInfo;
  /** Set when the target is a virtual appliance (OVA archive, OVF package). */
  appliance?: ApplianceInfo;
  findings: Finding[];
}

/** The advisory database a scan matched packages against, so a reader of the report can judge its age. */
export interface AdvisoryDbStatus {
  path: string;
  /** False when there was no database: vulnerabilities were not checked. */
  present: boolean;
  /** ISO 8601 time of the last import. */
  lastImport?: string;
  ageDays?: number;
  /** Older than the configured maximum age. */
  stale?: boolean;
  advisories?: number;
}

/** A scan of a whole image library (a directory or a storage pool): what it came to. */
export interface LibrarySummary {
  /** Images scanned (results), cached ones included. */
  images: number;
  /** Unchanged since a previous scan: answered from the scan cache. */
  cached: number;
  /** Read this time. */
  inspected: number;
  /** Targets that could not be read at all. */
  failed: number;
  /** Files looked at and left out (not images, parts of another image), and volumes not read. */
  skipped: Array<{ path: string; reason: string }>;
  /** Wall-clock time of the scan, vulnerability matching excluded. */
  seconds: number;
}

export interface ScanReport {
  tool: { name: 'hyperward'; version: string };
  createdAt: string;
  results: ScanResult[];
  /** Set when a directory or storage pool was scanned. */
  library?: LibrarySummary;
  /** Set when the scan looked for vulnerabilities. */
  advisoryDb?: AdvisoryDbStatus;
}
