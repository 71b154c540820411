import { describe, expect, it } from 'vitest';
import { CHANGE_MARKS_PRUNE_AT, ChangeMarks } from '../../src/cache/change_marks.js';

describe('ChangeMarks', () => {
  it('tells a reader which keys changed after its mark, and only those', () => {
    const marks = new ChangeMarks();
    marks.changed('before'); // Nobody in flight: nothing to remember.
    expect(marks.keys).toBe(0);
    const first = marks.open();
    marks.changed('a');
    const second = marks.open();
    marks.changed('b');
    expect(marks.unchanged('f', 'before', first)).toBe(true);
    expect(marks.unchanged('f', 'a', first)).toBe(false);
    expect(marks.unchanged('f', 'a', second)).toBe(true);
    expect(marks.unchanged('f', 'b', second)).toBe(false);
    expect(marks.unchanged('f', 'c', first)).toBe(true);
    marks.close(first);
    marks.close(second);
    expect(marks.keys).toBe(0);
  });

  it('counts a change of a whole kind against every key of that kind only', () => {
    const marks = new ChangeMarks();
    const mark = marks.open();
    marks.changedKind('p');
    expect(marks.unchanged('p', 'any', mark)).toBe(false);
    expect(marks.unchanged('f', 'any', mark)).toBe(true);
    marks.close(mark);
    const later = marks.open();
    expect(marks.unchanged('p', 'any', later)).toBe(true);
    marks.close(later);
  });

  it('stays bounded under a stream of changes with a reader always in flight, and never calls a changed key unchanged', () => {
    const marks = new ChangeMarks();
    // Readers overlap: each opens before the previous one closes, so some mark is always open.
    let open = marks.open();
    let maxKeys = 0;
    for (let i = 0; i < 5 * CHANGE_MARKS_PRUNE_AT; i++) {
      marks.changed(`k${i}`);
      if (i % 100 === 99) {
        const next = marks.open();
        expect(marks.unchanged('f', `k${i}`, open)).toBe(false);
        marks.close(open);
        open = next;
      }
      maxKeys = Math.max(maxKeys, marks.keys);
    }
    expect(maxKeys).toBeLessThanOrEqual(CHANGE_MARKS_PRUNE_AT + 1);

    // A reader held open through more changes than are remembered: it sees every key as changed.
    const slow = marks.open();
    for (let i = 0; i < CHANGE_MARKS_PRUNE_AT + 10; i++) {
      marks.changed(`s${i}`);
      if (i % 100 === 99) {
        const next = marks.open();
        marks.close(open);
        open = next;
      }
    }
    expect(marks.keys).toBeLessThanOrEqual(CHANGE_MARKS_PRUNE_AT + 1);
    expect(marks.unchanged('f', 's0', slow)).toBe(false);
    expect(marks.unchanged('f', 'never-written', slow)).toBe(false);
    marks.close(slow);
    marks.close(open);
    expect(marks.keys).toBe(0);
  });
});
