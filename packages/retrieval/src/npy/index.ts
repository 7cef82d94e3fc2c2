export { encodeNpy, type NpyArray, type NpyDtype, parseNpy, readNpy, writeNpy } from './npy.js';
