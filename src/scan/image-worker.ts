/**
 * A worker thread of an image batch: inspects the images it is sent, one at a time, and sends back what it found
 * and the bytes it read. Its own module, so a worker loads the image readers and nothing else.
 */
import { parentPort } from 'node:worker_threads';
import { newReadStats } from '../source/file.js';
import { inspectImage } from './image.js';
import type { WorkerReply, WorkerRequest } from './image-batch.js';

const port = parentPort;
if (port) {
  port.on('message', (req: WorkerRequest) => {
    const stats = newReadStats();
    let reply: WorkerReply;
    try {
      reply = { id: req.id, inspected: inspectImage(req.path, { ...req.mount, stats }), stats };
    } catch (e) {
      reply = { id: req.id, crash: e instanceof Error ? e.message : String(e), stats };
    }
    port.postMessage(reply);
  });
}
