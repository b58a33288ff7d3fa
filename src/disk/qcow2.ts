import { HyperwardError } from '../errors.js';
import type { FileSource } from '../source/file.js';
import type { OpenContext } from './open.js';
import type { BlockDevice } from './types.js';

/** Placeholder until the qcow2 reader lands. */
export function openQcow2(src: FileSource, _ctx: OpenContext): BlockDevice {
  throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'qcow2 is not supported yet', { file: src.path });
}
