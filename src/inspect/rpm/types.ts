/** Types shared by the RPM database backends. Types only. */
import type { HyperwardError } from '../../errors.js';

/** One header blob as a backend stores it, with the record number rpm gives the package. */
export interface RpmBlob {
  /** rpm's header instance: the SQLite `hnum`, the Berkeley DB key, the NDB `pkgidx`. */
  instance: number;
  blob: Buffer;
  /** Byte offset of the blob in the database file, where the backend knows it (NDB, on-page BDB values). */
  offset?: number;
}

/**
 * What a backend could read: every blob it found and, for every record or page it had to skip, a
 * HyperwardError naming the file, the layer and the offset. A backend throws only when the file as a whole is
 * unreadable (bad magic, impossible geometry).
 */
export interface RpmBlobSet {
  blobs: RpmBlob[];
  problems: HyperwardError[];
}
