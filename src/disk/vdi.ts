import { HyperwardError } from '../errors.js';
import type { FileSource } from '../source/file.js';
import type { OpenContext } from './open.js';
import type { BlockDevice } from './types.js';

/** Placeholder until the vdi reader lands. */
export function openVdi(src: FileSource, _ctx: OpenContext): BlockDevice {
  throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'vdi is not supported yet', { file: src.path });
}
