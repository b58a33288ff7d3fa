import type { Finding } from './finding.js';
import type { ImageInfo, SystemInventory } from './inventory.js';

export interface TargetError {
  code: string;
  message: string;
}

/** What one target (an image, a host, a config file) yielded. */
export interface ScanResult extends SystemInventory {
  target: string;
  /** `image`: a disk image; `host`: a hypervisor host; `config`: one configuration file. */
  kind: 'image' | 'host' | 'config';
  /** Set when the target could not be read at all; the rest of the run goes on. */
  error?: TargetError;
  image?: ImageInfo;
  findings: Finding[];
}

export interface ScanReport {
  tool: { name: 'hyperward'; version: string };
  createdAt: string;
  results: ScanResult[];
}
