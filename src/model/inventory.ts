/** The inventory model every reader fills and every analyzer and writer reads. Types only. */

export type OsFamily = 'debian' | 'rhel' | 'suse' | 'alpine' | 'arch' | 'unknown';

export interface OsInfo {
  /** os-release `ID`, lowercase: `debian`, `ubuntu`, `rhel`, `alpine`... */
  id: string;
  idLike: string[];
  name?: string;
  version?: string;
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
  family: OsFamily;
  /** The file the identity was read from (`/etc/os-release`, `/etc/debian_version`, ...). */
  source: string;
}

export type PackageEcosystem = 'deb' | 'rpm' | 'apk';

export interface Package {
  ecosystem: PackageEcosystem;
  name: string;
  version: string;
  arch: string;
  /** Source package name (Debian `Source:`), the binary name when the same. */
  sourceName: string;
  /** Source package version, the binary version when not given. */
  sourceVersion: string;
  maintainer?: string;
  /** Installed size in KiB as the package manager records it. */
  installedSize?: number;
  /** Where it was read from: `/var/lib/dpkg/status`, `/var/lib/dpkg/status.d/NAME`... */
  source: string;
}

export interface PartitionInfo {
  index: number;
  start: number;
  size: number;
  scheme: 'mbr' | 'gpt';
  type: string;
  typeName?: string;
  name?: string;
  uuid?: string;
}

export interface FilesystemInfo {
  /** Partition number, or 0 for a filesystem on the whole disk. */
  partition: number;
  /** `ext4`, `xfs`, `vfat`, `ntfs`, `luks`, `swap`, `lvm2-pv`..., or `unknown`. */
  type: string;
  uuid?: string;
  label?: string;
  /** `vg/lv` for a filesystem on an LVM2 logical volume (`partition` is then the PV's partition). */
  volume?: string;
  /** The btrfs subvolume the OS root was found in, when not the default one. */
  subvolume?: string;
  /** Where the OS mounts it, from its fstab, when known. */
  mountpoint?: string;
  /** True for the filesystem the OS inventory was read from. */
  root?: boolean;
  /** Present but not inspected: why. */
  note?: string;
}

/** The container, partitions and filesystems of one disk image. */
export interface ImageInfo {
  format: string;
  subformat?: string;
  virtualSize: number;
  /** Files read for this image: the image, its extents and backing chain. */
  files: string[];
  partitionScheme: 'mbr' | 'gpt' | 'none';
  partitions: PartitionInfo[];
  filesystems: FilesystemInfo[];
}

/** What was found installed on one system (an image's root filesystem, a host). */
export interface SystemInventory {
  os?: OsInfo;
  hostname?: string;
  packages: Package[];
}

/** A CPE 2.3 name derived for an appliance's product, with how far to trust it. */
export interface ApplianceCpe {
  /** `cpe:2.3:a:<vendor>:<product>:<version>:*:*:*:*:*:*:*` */
  cpe: string;
  /** `high`: vendor, product and version as stated; lower for each heuristic step taken. */
  confidence: 'high' | 'medium' | 'low';
  /** How it was derived (`vendor and product; Version`, `version in FullVersion`...). */
  basis: string;
}

/** A network adapter of a virtual system. */
export interface ApplianceNic {
  name?: string;
  /** The network it connects to, as the descriptor names it. */
  network?: string;
  /** `VmxNet3`, `E1000`... */
  adapterType?: string;
}

/** One virtual system (VM) of an appliance, from its first VirtualHardwareSection. */
export interface ApplianceSystem {
  id: string;
  name?: string;
  /** The guest OS the descriptor declares: VMware guest id (`vmw:osType`), else the CIM OsType description. */
  osType?: string;
  /** CIM_OperatingSystem OsType number (`ovf:id`). */
  osId?: number;
  cpus?: number;
  memoryBytes?: number;
  nics: ApplianceNic[];
  /** The disks of the DiskSection its drives are backed by. */
  disks: Array<{ diskId: string; capacityBytes?: number }>;
}

/** One disk of an appliance's DiskSection, and what was found on it. */
export interface ApplianceDiskInfo {
  diskId: string;
  /** The package file holding its image (`ovf:href`). */
  file?: string;
  capacityBytes?: number;
  /** Declared format URI (`…vmdk.html#streamOptimized`). */
  format?: string;
  /** Its container, partitions and filesystems, as for any image. */
  image?: ImageInfo;
  /** The OS inventory (OS, packages) was read from this disk. */
  root?: boolean;
  /** Why it could not be read. */
  error?: { code: string; message: string };
}

/** A certificate of an appliance's signature (the signer first, then the chain it names). */
export interface ApplianceCertificate {
  subject: string;
  issuer: string;
  serialNumber: string;
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  selfSigned: boolean;
}

/**
 * A virtual appliance: an OVA archive read in place, or an unpacked OVF package. What its descriptor says
 * (product, virtual systems, networks, disks), how its manifest and signature checked out, and CPE candidates for
 * its product, so advisories can be matched even when its OS is closed.
 */
export interface ApplianceInfo {
  /** `ova`: a tar archive; `ovf`: a descriptor with its files beside it. */
  kind: 'ova' | 'ovf';
  /** The descriptor's name in the package. */
  descriptor: string;
  /** OVF version family; `unknown` for another namespace (OVF 0.9, none). Absent when the descriptor is unreadable. */
  ovfVersion?: '1.x' | '2.x' | 'unknown';
  /** From the first ProductSection that names a product (the appliance-level one comes first). */
  product?: string;
  vendor?: string;
  version?: string;
  fullVersion?: string;
  productUrl?: string;
  vendorUrl?: string;
  systems: ApplianceSystem[];
  networks: Array<{ name: string; description?: string }>;
  disks: ApplianceDiskInfo[];
  manifest: {
    /**
     * `verified`: every listed file matched; `failed`: a file differs, is missing or unreadable; `absent`: no
     * manifest; `empty`: no readable entry; `unchecked`: digests were not computed.
     */
    status: 'verified' | 'failed' | 'absent' | 'empty' | 'unchecked';
    name?: string;
    /** Digest algorithms used (`SHA256`, `SHA1`...). */
    algorithms: string[];
    /** Some entry uses SHA-1. */
    weak: boolean;
    entries: number;
    /** Entries that failed, with why (`mismatch`, `missing`, `unreadable`). */
    failed: Array<{ file: string; status: string }>;
    /** Package files the manifest does not list. */
    uncovered: string[];
  };
  signature: {
    /** `valid`: the signature over the manifest verifies; `invalid`: it does not; `unsigned`: no certificate file. */
    status: 'valid' | 'invalid' | 'unsigned';
    name?: string;
    /** Why it is invalid, or a note on a valid one. */
    reason?: string;
    algorithm?: string;
    /** The signer first, then each issuer the certificate file holds. */
    chain: ApplianceCertificate[];
    /** The chain reaches a trusted root. */
    trusted?: boolean;
    trustedRoot?: string;
    /** A certificate of the chain is outside its validity period at the time of the scan. */
    expired?: boolean;
  };
  /** CPE candidates for the products the descriptor names, most likely first. */
  cpes: ApplianceCpe[];
}
