/**
 * Keeping V8's optimised code of hot paths across garbage collections.
 *
 * Objects of a class get their fields through map transitions from the class's initial map, and V8 holds those
 * transitions weakly: once no object of the class is alive, a full collection may drop the maps, and with them every
 * piece of optimised code that checks for them (V8 logs it as "marking dependent code … for deoptimization, reason:
 * weak objects"). A matcher whose objects all die with each scan then starts every scan after a collection in the
 * interpreter: in the vulnerability benchmark, which collects garbage before each run, matching took 4–13 ms instead
 * of 2–4 ms. Keeping one object of each such class alive for the life of the process keeps the maps, and the code.
 */

/** The objects kept: one per class, never read. */
const kept: object[] = [];

/**
 * Keeps `sample` (an object of a class whose objects are made and dropped in a hot path) alive for the life of the
 * process, so that its map — and the optimised code checking for it — survives collections. Returns it.
 *
 * @example
 * keepShape(new Bounds(0, 0, 0, 0, 0));
 */
export function keepShape<T extends object>(sample: T): T {
  kept.push(sample);
  return sample;
}
