import { FileSource } from '../source/file.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

/** A raw disk image (or block device): virtual offset = file offset. */
export class RawDevice implements BlockDevice {
  readonly format = 'raw';
  readonly size: number;
  readonly name: string;
  readonly info: DeviceInfo;

  constructor(private readonly src: FileSource) {
    this.size = src.size;
    this.name = src.path;
    this.info = { format: 'raw', virtualSize: this.size, files: [src.path] };
  }

  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    return this.src.read(offset, length, 'raw data');
  }

  close(): void {
    this.src.close();
  }
}
