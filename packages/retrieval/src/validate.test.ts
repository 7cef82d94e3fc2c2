import { AnchorageError } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { AnchorIndex } from './anchor/index.js';
import { FlatIndex } from './flat/index.js';
import { checkId, isWellFormedText } from './validate.js';

const loneSurrogates = ['a\ud800', 'a\udc00', '\udbff', '\udfff\ud800', 'x\ud83d', '\ude00y'];
const wellFormed = ['', 'a', '\ud83d\ude00', 'e\u0301', '\ufffd', '\ufeff', '\uffff', 'a\ud800\udc00b'];

describe('isWellFormedText', () => {
  it('agrees with String.prototype.isWellFormed', () => {
    const native = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
    for (const s of [...loneSurrogates, ...wellFormed])
      expect(isWellFormedText(s), JSON.stringify(s)).toBe(native(s));
    // every code unit alone and in every pair of two surrogate-range units
    for (let u = 0xd7f0; u < 0xe010; u++) {
      const s = String.fromCharCode(u);
      expect(isWellFormedText(s)).toBe(native(s));
      for (const v of [0xd800, 0xdbff, 0xdc00, 0xdfff, 0x41]) {
        const pair = s + String.fromCharCode(v);
        expect(isWellFormedText(pair)).toBe(native(pair));
      }
    }
  });
});

describe('checkId', () => {
  it('refuses strings with a lone surrogate, naming the id', () => {
    for (const id of loneSurrogates) {
      let error: unknown;
      try {
        checkId(id);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AnchorageError);
      expect((error as AnchorageError).code).toBe('INVALID_ARGUMENT');
      expect((error as AnchorageError).message).toMatch(/not well-formed Unicode/);
    }
    for (const id of wellFormed) expect(() => checkId(id)).not.toThrow();
  });

  it('keeps both index kinds free of ids that UTF-8 cannot hold (so saving never merges two ids)', () => {
    for (const index of [
      new FlatIndex({ dim: 2 }),
      new AnchorIndex({ dim: 2, anchors: new Float32Array([0, 0, 1, 1]) }),
    ]) {
      expect(() => index.add({ ids: ['a\ud800', 'a\udc00'], vectors: new Float32Array(4) })).toThrow(
        /not well-formed/,
      );
      expect(index.size).toBe(0);
      expect(() => index.remove('a\ud800')).toThrow(/not well-formed/);
    }
  });
});
