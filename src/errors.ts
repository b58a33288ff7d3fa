/**
 * One error type for the whole library. `code` is stable and machine-readable; the message says what happened
 * and, where it can, what to do. Errors about a corrupt input name the file, the layer and the byte offset.
 */
export type ErrorCode =
  | 'E_USAGE'
  | 'E_NOT_FOUND'
  | 'E_IO'
  | 'E_IMAGE_CORRUPT'
  | 'E_UNSUPPORTED_FORMAT'
  | 'E_ENCRYPTED'
  | 'E_BACKING_REFUSED'
  | 'E_LIMIT'
  | 'E_FS_CORRUPT'
  | 'E_CONFIG_SYNTAX'
  | 'E_AUTH'
  | 'E_INTERNAL';

export interface ErrorLocation {
  /** The file the problem was found in. */
  file?: string;
  /** The layer of the format, e.g. `qcow2 L2 table`, `ext4 extent tree`, `GPT entry 3`. */
  layer?: string;
  /** Byte offset inside `file` (or inside the virtual disk, when the layer says so). */
  offset?: number;
  /** 1-based line, for text formats. */
  line?: number;
}

export class HyperwardError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;

  constructor(code: ErrorCode, message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super(HyperwardError.format(message, location), options);
    this.name = 'HyperwardError';
    this.code = code;
    this.location = location;
  }

  private static format(message: string, loc: ErrorLocation): string {
    const where: string[] = [];
    if (loc.file !== undefined) where.push(loc.file);
    if (loc.layer !== undefined) where.push(loc.layer);
    if (loc.line !== undefined) where.push(`line ${loc.line}`);
    if (loc.offset !== undefined) where.push(`offset ${loc.offset} (0x${loc.offset.toString(16)})`);
    return where.length > 0 ? `${where.join(': ')}: ${message}` : message;
  }
}

/** A disk image container or partition table that is damaged or malicious. */
export function corrupt(message: string, location: ErrorLocation): HyperwardError {
  return new HyperwardError('E_IMAGE_CORRUPT', message, location);
}

/** A filesystem structure that is damaged or malicious. */
export function fsCorrupt(message: string, location: ErrorLocation): HyperwardError {
  return new HyperwardError('E_FS_CORRUPT', message, location);
}

export function isHyperwardError(e: unknown): e is HyperwardError {
  return e instanceof HyperwardError;
}
