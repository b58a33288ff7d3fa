import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

/** A window `[start, start+size)` of another device: a partition, an LVM extent range, a flat extent. */
export class SliceDevice implements BlockDevice {
  readonly format = 'partition';
  readonly info: DeviceInfo;

  constructor(
    private readonly parent: BlockDevice,
    readonly start: number,
    readonly size: number,
    readonly name: string,
  ) {
    checkRange(parent, start, size);
    this.info = { format: 'partition', virtualSize: size, files: parent.info.files, start };
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    return this.parent.read(this.start + offset, length);
  }

  close(): void {
    // The parent owns the file descriptors.
  }
}
