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
