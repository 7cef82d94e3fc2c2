// The trainer's seeded generator is loss-core's (one implementation for anchors, shuffling and
// initialisation alike), re-exported so trainer modules import it from one place.
export { Random, type RandomState } from '@anchorage/loss-core';
