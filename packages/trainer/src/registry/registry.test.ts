import { describe, expect, it } from 'vitest';
import { createRegistry } from './registry';

describe('createRegistry', () => {
  it('lists sorted names and names the known ones when a lookup fails', () => {
    const r = createRegistry<number>('widget', [
      ['b', 2],
      ['a', 1],
    ]);
    expect(r.list()).toEqual(['a', 'b']);
    expect(r.get('b')).toBe(2);
    expect(() => r.get('c')).toThrow(/unknown widget "c"; known: a, b/);
    try {
      r.get('c');
    } catch (error) {
      expect((error as { code: string }).code).toBe('NOT_FOUND');
    }
  });

  it('register returns a function that undoes exactly that registration', () => {
    const r = createRegistry<number>('widget', [['a', 1]]);
    const undoNew = r.register('n', 5);
    const undoReplace = r.register('a', 7);
    expect(r.get('a')).toBe(7);
    undoReplace();
    expect(r.get('a')).toBe(1);
    undoNew();
    expect(r.has('n')).toBe(false);
    const first = r.register('x', 1);
    r.register('x', 2);
    first(); // x was registered again since: left alone
    expect(r.get('x')).toBe(2);
    expect(() => r.register('', 3)).toThrow(/non-empty/);
  });
});
