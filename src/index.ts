/**
 * Hyperward's public library API. Everything the CLI does is available here; package.json "exports" points at
 * this file only.
 *
 * @example
 * import { scanImage } from 'hyperward';
 * const result = scanImage('vm.qcow2');
 * console.log(result.os?.prettyName, result.packages.length);
 */
export { HyperwardError, isHyperwardError, type ErrorCode, type ErrorLocation } from './errors.js';
export type { Finding, Severity, FindingStatus, Evidence, Reference } from './model/finding.js';
export type {
  OsInfo,
  Package,
  PackageEcosystem,
  ImageInfo,
  PartitionInfo,
  FilesystemInfo,
  SystemInventory,
} from './model/inventory.js';
export type { ScanReport, ScanResult } from './model/report.js';
export { openImage, detectFormat, type OpenImageOptions, type ContainerFormatName } from './disk/open.js';
export type { BlockDevice, DeviceInfo } from './disk/types.js';
export { readPartitions } from './disk/partition/index.js';
export type { Partition, PartitionTable } from './disk/partition/types.js';
export { openFilesystem, probeContent, type ContentType } from './fs/probe.js';
export type { FileSystem, Inode, DirEntry, FileType } from './fs/types.js';
export { Vfs } from './fs/vfs.js';
export { mountImage, scanImage, type MountedImage, type MountOptions } from './scan/image.js';
export { loadWriter } from './report/index.js';
export { FORMATS, type FormatName, type Writer } from './report/types.js';
export { newReadStats, type ReadStats } from './source/file.js';
export type { VulnerabilityInfo, CvssScore, VexApplied } from './model/finding.js';
export type { AdvisoryDbStatus } from './model/report.js';
export type {
  Advisory,
  AffectedPackage,
  AdvisoryIndex,
  ImportSummary,
  ImportIssue,
  RangeEvent,
} from './vuln/types.js';
export { compareVersions, type VersionEcosystem } from './vuln/version/index.js';
export { AdvisoryDb, type AdvisoryDbInfo } from './vuln/db/store.js';
export { importAdvisories, type ImportOptions } from './vuln/import/run.js';
export { MemoryAdvisoryIndex } from './vuln/memory-index.js';
export { matchInventory, type MatchOptions, type MatchResult } from './vuln/match.js';
export { loadVex, applyVex, type VexDocument } from './vuln/vex.js';
export { readSbom, type SbomInventory } from './sbom/read.js';
export { openVulnContext, addVulnerabilities, type VulnOptions, type VulnContext } from './scan/vulns.js';
export { openXfs } from './fs/xfs.js';
export { openBtrfs, listBtrfsSubvolumes } from './fs/btrfs.js';
export { openFat } from './fs/fat.js';
export { readLvm, type VolumeGroup, type LogicalVolume } from './disk/lvm.js';
export { readInstalledPackages, inspectSystem, type RootReader } from './inspect/system.js';
export { readRpmDatabase, type RpmDatabase } from './inspect/rpm/index.js';
export { readApkDatabase } from './inspect/apk.js';
export { verifyPackagedFiles, integrityFindings, type IntegrityReport } from './inspect/integrity.js';
export {
  createBaseline,
  signManifest,
  verifyManifest,
  compareToBaseline,
  generateKeyPair,
  type Manifest,
} from './inspect/baseline.js';
export { endOfLife } from './inspect/eol.js';
export { readClamAv } from './inspect/clamav.js';
export { readPackageActivity, stalenessFindings } from './inspect/staleness.js';
export { inspectImage, judgeImage, mountDevice, imageComponents, type InspectedImage } from './scan/image.js';
export { scanImageBatch, type BatchOptions, type BatchResult } from './scan/image-batch.js';
export { discoverImages, withoutComponents, classifyFile, type Discovery } from './scan/library.js';
export { ScanCache, imageFingerprint } from './scan/scan-cache.js';
export { readPool, type PoolInventory, type PoolVolume } from './source/virsh-pool.js';
export { openOva, type Ova, type OpenOvaOptions } from './appliance/ova.js';
export { parseOvf, type OvfEnvelope } from './appliance/ovf.js';
export { cpeCandidates, applianceCpeCandidates, type CpeCandidate } from './appliance/cpe.js';
export type { ApplianceInfo, ApplianceCpe } from './model/inventory.js';
export type { LibrarySummary } from './model/report.js';
export { matchCpes, compareDottedVersions, parseCpe23, type CpeFinding } from './vuln/cpe-match.js';
